"""The scripted lifecycle of a simulated instance, read from ``eci.ask.dev/`` pod annotations.

Real ECI runs the pod's images; the simulation instead follows a script the user writes on the pod:

=============================  =========================================================================
``eci.ask.dev/startup-delay``  seconds from creation to Running (default: the profile's
                               ``simulation.startupDelaySeconds``); 0 allowed
``eci.ask.dev/exit-after``     seconds after start at which the app containers exit (default: never)
``eci.ask.dev/exit-code``      their exit code, 0-255 (default 0)
=============================  =========================================================================

The pod's ``restartPolicy`` decides what happens at exit, as the kubelet would: ``Always`` restarts,
``OnFailure`` restarts on a non-zero code, ``Never`` leaves the container terminated; when every app
container is terminated for good the group is Succeeded (all codes 0) or Failed. Pure parsing and rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain.errors import DomainError

PREFIX = "eci.ask.dev/"
STARTUP_DELAY = PREFIX + "startup-delay"
EXIT_AFTER = PREFIX + "exit-after"
EXIT_CODE = PREFIX + "exit-code"
MAX_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Lifecycle:
    """The script of one instance."""

    startup_delay: float
    exit_after: float | None
    exit_code: int
    restart_policy: str  # Always | OnFailure | Never

    def restarts_after(self, code: int) -> bool:
        return self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)


def _seconds(annotations: Mapping[str, str], key: str) -> float | None:
    raw = annotations.get(key)
    if raw is None:
        return None
    try:
        value = float(raw.strip().removesuffix("s"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value > MAX_SECONDS:
        raise DomainError(
            field=key,
            value=raw,
            allowed=f"a number of seconds from 0 to {MAX_SECONDS}, e.g. '2' or '0.5'",
            why="not a duration in seconds",
        )
    return value


def parse_lifecycle(pod: Mapping[str, Any], *, default_startup_delay: float = 0.0) -> Lifecycle:
    """The lifecycle script of ``pod``; raises DomainError naming the bad annotation."""
    annotations: Mapping[str, str] = (pod.get("metadata") or {}).get("annotations") or {}
    delay = _seconds(annotations, STARTUP_DELAY)
    exit_after = _seconds(annotations, EXIT_AFTER)
    code_raw = annotations.get(EXIT_CODE)
    code = 0
    if code_raw is not None:
        try:
            code = int(code_raw.strip())
        except ValueError:
            code = -1
        if not 0 <= code <= 255:
            raise DomainError(
                field=EXIT_CODE, value=code_raw, allowed="an integer from 0 to 255", why="not an exit code"
            )
        if exit_after is None:
            raise DomainError(
                field=EXIT_CODE,
                value=code_raw,
                allowed=f"only together with {EXIT_AFTER}",
                why="an exit code needs a time to exit",
            )
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    return Lifecycle(
        startup_delay=default_startup_delay if delay is None else delay,
        exit_after=exit_after,
        exit_code=code,
        restart_policy=policy,
    )
