"""The eci.ask.dev/ lifecycle annotations."""

from __future__ import annotations

from typing import Any

import pytest

from eci_operator.domain.errors import DomainError
from eci_operator.domain.lifecycle import EXIT_AFTER, EXIT_CODE, STARTUP_DELAY, parse_lifecycle


def pod(annotations: dict[str, str], policy: str | None = None) -> dict[str, Any]:
    spec = {"restartPolicy": policy} if policy else {}
    return {"metadata": {"annotations": annotations}, "spec": spec}


def test_defaults() -> None:
    lc = parse_lifecycle(pod({}), default_startup_delay=2.5)
    assert (lc.startup_delay, lc.exit_after, lc.exit_code, lc.restart_policy) == (2.5, None, 0, "Always")


def test_values() -> None:
    lc = parse_lifecycle(pod({STARTUP_DELAY: "0", EXIT_AFTER: "1.5s", EXIT_CODE: "3"}, "OnFailure"))
    assert (lc.startup_delay, lc.exit_after, lc.exit_code) == (0.0, 1.5, 3)
    assert lc.restarts_after(3)
    assert not lc.restarts_after(0)
    assert not parse_lifecycle(pod({}, "Never")).restarts_after(1)
    assert parse_lifecycle(pod({}, "Always")).restarts_after(0)


@pytest.mark.parametrize(
    ("annotations", "field"),
    [
        ({STARTUP_DELAY: "soon"}, STARTUP_DELAY),
        ({STARTUP_DELAY: "-1"}, STARTUP_DELAY),
        ({EXIT_AFTER: "nan"}, EXIT_AFTER),
        ({EXIT_AFTER: "1e9"}, EXIT_AFTER),
        ({EXIT_AFTER: "1", EXIT_CODE: "256"}, EXIT_CODE),
        ({EXIT_AFTER: "1", EXIT_CODE: "x"}, EXIT_CODE),
        ({EXIT_CODE: "1"}, EXIT_CODE),
    ],
)
def test_bad_values_name_the_annotation(annotations: dict[str, str], field: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_lifecycle(pod(annotations))
    assert info.value.field == field
    assert field in str(info.value)
