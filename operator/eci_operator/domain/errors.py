"""The one error type of the domain layer: bad user input, named precisely.

Every rejection of an annotation, a pod field or a profile field is a ``DomainError`` that says *which*
field (an annotation name such as ``k8s.aliyun.com/eci-use-specs`` or a field path such as
``spec.containers[0].securityContext.privileged``), *which* value, *why*, and *what would be valid*
(including any limit). Callers show ``str(error)`` to users as is: the CLI on stderr, the operator in an
Event, the admission webhook in its denial. It subclasses ``ValueError`` so generic code can still catch it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError


class DomainError(ValueError):
    """A value the domain rejects.

    Attributes:
        field: the annotation name or field path of the offending value.
        value: the offending token (the whole value, or the one comma-separated item at fault);
            ``None`` when the field is missing.
        why: a short reason, without the field or value.
        allowed: what would be valid, including any limit.
    """

    def __init__(self, field: str, value: Any, why: str, allowed: str) -> None:
        self.field = field
        self.value = value
        self.why = why
        self.allowed = allowed
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``<field>: <value!r> is not valid: <why>; allowed: <allowed>`` (``(not set)`` for no value)."""
        shown = "(not set)" if self.value is None else repr(self.value)
        return f"{self.field}: {shown} is not valid: {self.why}; allowed: {self.allowed}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"DomainError(field={self.field!r}, value={self.value!r}, why={self.why!r}, "
            f"allowed={self.allowed!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DomainError):
            return NotImplemented
        return (self.field, self.value, self.why, self.allowed) == (
            other.field,
            other.value,
            other.why,
            other.allowed,
        )

    def __hash__(self) -> int:
        return hash((self.field, repr(self.value), self.why, self.allowed))


class DomainErrors(DomainError):
    """Several ``DomainError``s at once; behaves as the first, and lists all in its message."""

    def __init__(self, errors: Iterable[DomainError]) -> None:
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("DomainErrors needs at least one error")
        first = self.errors[0]
        super().__init__(first.field, first.value, first.why, first.allowed)

    @property
    def message(self) -> str:
        return "; ".join(error.message for error in self.errors)


def _allowed_from_pydantic(error_type: str, ctx: dict[str, Any], msg: str) -> str:
    """Turn a pydantic error into the ``allowed`` part of a DomainError."""
    if error_type == "missing":
        return "a value (this field is required)"
    if error_type == "extra_forbidden":
        return "only the fields of the schema (check the spelling)"
    if error_type in ("enum", "literal_error"):
        return f"one of {ctx.get('expected', '?')}"
    if error_type == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern', '?')}"
    if error_type in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        return " and ".join(f"{sign} {ctx[key]}" for key, sign in bounds.items() if key in ctx)
    if error_type in ("too_short", "too_long"):
        parts = []
        if "min_length" in ctx:
            parts.append(f"at least {ctx['min_length']} item(s)/character(s)")
        if "max_length" in ctx:
            parts.append(f"at most {ctx['max_length']} item(s)/character(s)")
        return " and ".join(parts) or msg
    if error_type.endswith("_type") or error_type.endswith("_parsing"):
        return msg.removeprefix("Input should be ")
    return "see the ECIProfile schema (crds/)"


def _path(loc: tuple[int | str, ...], root: str) -> str:
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "." in part or "/" in part:
            path += f"[{part!r}]"
        else:
            path += f".{part}" if path else part
    return path or "(root)"


def from_validation_error(exc: ValidationError, *, root: str = "") -> list[DomainError]:
    """One ``DomainError`` per pydantic error, each named by its field path (``spec.vSwitches[0].cidr``).

    Model validators of the whole object report at the object's path; their message starts with the
    sub-field they are about (for example ``vSwitches: duplicate ids: vsw-a``).
    """
    errors: list[DomainError] = []
    for item in exc.errors(include_url=False):
        ctx = dict(item.get("ctx") or {})
        msg = item["msg"].removeprefix("Value error, ")
        value = None if item["type"] == "missing" else item.get("input")
        if isinstance(value, dict | list) and item["type"] not in ("dict_type", "list_type"):
            value = _abbreviate(value)
        errors.append(
            DomainError(
                _path(tuple(item["loc"]), root),
                value,
                msg,
                _allowed_from_pydantic(item["type"], ctx, msg),
            )
        )
    return errors


def _abbreviate(value: dict[str, Any] | list[Any]) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
