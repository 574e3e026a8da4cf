"""Kubernetes quantity parsing: exact values, every suffix, and every malformed input as a DomainError."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eci_operator.domain import DomainError, cpu_cores, memory_gib, parse_quantity

FIELD = "spec.containers[0].resources.requests.cpu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        ("2", Fraction(2)),
        (2, Fraction(2)),
        (0.5, Fraction(1, 2)),
        (0.1, Fraction(1, 10)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("2Gi", Fraction(2 * 2**30)),
        ("512Mi", Fraction(512 * 2**20)),
        ("1Ki", Fraction(1024)),
        ("1Ti", Fraction(2**40)),
        ("1G", Fraction(10**9)),
        ("1k", Fraction(1000)),
        ("250u", Fraction(250, 10**6)),
        ("100n", Fraction(100, 10**9)),
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("+1", Fraction(1)),
        ("-1", Fraction(-1)),
        ("0", Fraction(0)),
    ],
)
def test_parse_quantity(text: object, expected: Fraction) -> None:
    assert parse_quantity(text, field=FIELD) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "1.5.5", "abc", "1 Gi", "1gi", "1GB", "1e", "1e999", "--1", "1Zi", "Gi", "1e3Gi", "0x10"],
)
def test_bad_quantities_name_the_field(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_quantity(text, field=FIELD)
    assert caught.value.field == FIELD
    assert caught.value.value == text
    assert "quantity" in caught.value.allowed or "exponent" in caught.value.allowed


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}, float("nan"), float("inf")])
def test_non_scalar_quantities(value: object) -> None:
    with pytest.raises(DomainError):
        parse_quantity(value, field=FIELD)


def test_memory_in_gib_and_negative_amounts() -> None:
    assert memory_gib("512Mi", field=FIELD) == Fraction(1, 2)
    assert memory_gib("1G", field=FIELD) == Fraction(10**9, 2**30)
    assert cpu_cores("250m", field=FIELD) == Fraction(1, 4)
    with pytest.raises(DomainError, match="cannot be negative"):
        cpu_cores("-1", field=FIELD)
    with pytest.raises(DomainError, match="cannot be negative"):
        memory_gib("-1Gi", field=FIELD)


@given(st.text(max_size=40))
def test_any_text_is_a_value_or_a_domain_error(text: str) -> None:
    try:
        parse_quantity(text, field=FIELD)
    except DomainError as error:
        caught: DomainError | None = error
    else:
        caught = None
    assert caught is None or caught.field == FIELD


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["", "m", "k", "Mi", "Gi", "e2"]))
def test_integers_with_suffixes(number: int, suffix: str) -> None:
    value = parse_quantity(f"{number}{suffix}", field=FIELD)
    scale = {"": 1, "m": Fraction(1, 1000), "k": 1000, "Mi": 2**20, "Gi": 2**30, "e2": 100}[suffix]
    assert value == number * scale
