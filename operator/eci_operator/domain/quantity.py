"""Kubernetes resource quantities ("500m", "1.5", "2Gi", "512Mi", "1e3", "1G") as exact fractions.

Pod sizing must round *up* on the ECI spec table, so a float error such as 0.1 + 0.2 > 0.3 would pick the
wrong row; every quantity is therefore parsed into a ``fractions.Fraction``. The grammar is the one of
k8s.io/apimachinery ``resource.Quantity``: a signed decimal number followed by a binary-SI suffix
(Ki Mi Gi Ti Pi Ei), a decimal-SI suffix (n u m "" k M G T P E) or a decimal exponent (e3, E-2).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from eci_operator.domain.errors import DomainError

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Real quantities never come close; the bound keeps a hostile "1e999999999" from hanging the parser.
_MAX_EXPONENT = 30
_MAX_LENGTH = 64
_GIB = Fraction(2**30)

QUANTITY_ALLOWED = (
    "a Kubernetes quantity: a decimal number with an optional suffix "
    "Ki/Mi/Gi/Ti/Pi/Ei, n/u/m/k/M/G/T/P/E or an exponent like e3 (for example 500m, 1.5, 2Gi, 512Mi)"
)


def parse_quantity(value: object, *, field: str) -> Fraction:
    """The exact value of a quantity given as a string or as a YAML number (may be negative)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DomainError(
            field,
            value,
            f"a quantity must be a string or a number, not {type(value).__name__}",
            QUANTITY_ALLOWED,
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DomainError(field, value, "not a finite number", QUANTITY_ALLOWED)
        # repr() gives the shortest text that reads back as the same float: 0.1 -> "0.1", not 0.1000...0555.
        text = repr(value)
    else:
        text = str(value)
    if len(text) > _MAX_LENGTH:
        raise DomainError(field, value, f"longer than {_MAX_LENGTH} characters", QUANTITY_ALLOWED)
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise DomainError(field, value, "not a Kubernetes quantity", QUANTITY_ALLOWED)
    number = Fraction(match["number"])
    if suffix := match["suffix"]:
        if suffix in _BINARY:
            return number * Fraction(1024) ** _BINARY[suffix]
        return number * Fraction(10) ** _DECIMAL[suffix]
    if match["exponent"] is not None:
        exponent = int(match["exponent"])
        if abs(exponent) > _MAX_EXPONENT:
            raise DomainError(
                field,
                value,
                f"exponent {exponent} is out of range",
                f"an exponent between -{_MAX_EXPONENT} and {_MAX_EXPONENT}",
            )
        return number * Fraction(10) ** exponent
    return number


def _non_negative(value: object, *, field: str) -> Fraction:
    quantity = parse_quantity(value, field=field)
    if quantity < 0:
        raise DomainError(field, value, "a resource amount cannot be negative", "a quantity >= 0")
    return quantity


def cpu_cores(value: object, *, field: str) -> Fraction:
    """A CPU quantity in cores ("500m" -> 1/2, "2" -> 2)."""
    return _non_negative(value, field=field)


def memory_gib(value: object, *, field: str) -> Fraction:
    """A memory quantity in GiB ("512Mi" -> 1/2, "1G" -> 10**9 / 2**30)."""
    return _non_negative(value, field=field) / _GIB
