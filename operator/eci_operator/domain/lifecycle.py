"""The scripted lifecycle of a simulated instance, read from ``eci.ask.dev/`` pod annotations.

Real ECI runs the pod's images; the simulation instead follows a script the user writes on the pod:

==================================  ====================================================================
``eci.ask.dev/startup-delay``       seconds from creation to Running (default: the profile's
                                    ``simulation.startupDelaySeconds``); 0 allowed
``eci.ask.dev/startup-jitter``      up to this many extra seconds, drawn from the seed and the pod uid
                                    (default: ``simulation.startupJitterSeconds``)
``eci.ask.dev/exit-after``          seconds after start at which the app containers exit (default: never)
``eci.ask.dev/exit-code``           their exit code, 0-255 (default 0)
``eci.ask.dev/oom-after``           seconds after start at which the app containers are OOM-killed
                                    (exit code 137, reason OOMKilled; an ``OOMKilled`` Event)
``eci.ask.dev/start-failure``       the containers never start: one of START_FAILURES (e.g. ErrImagePull)
``eci.ask.dev/stdout``              lines the containers print when they start (``kubectl logs``)
``eci.ask.dev/image-pull-seconds``  seconds the image pulls take (default: the profile's pull model, or
                                    the matched ImageCache's start)
``eci.ask.dev/spot-reclaim-after``  seconds after the spot protection period ends at which the instance
                                    is reclaimed (default: ``simulation.spotReclaimAfterSeconds``, else
                                    never)
==================================  ====================================================================

The pod's ``restartPolicy`` decides what happens at exit, as the kubelet would: ``Always`` restarts,
``OnFailure`` restarts on a non-zero code, ``Never`` leaves the container terminated; when every app
container is terminated for good the group is Succeeded (all codes 0) or Failed. Pure parsing and rules.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any

from eci_operator.domain.errors import DomainError
from eci_operator.models import LifecycleScript, RestartPolicy
from eci_operator.models.containergroup import StartFailure

PREFIX = "eci.ask.dev/"
STARTUP_DELAY = PREFIX + "startup-delay"
EXIT_AFTER = PREFIX + "exit-after"
EXIT_CODE = PREFIX + "exit-code"
STARTUP_JITTER = PREFIX + "startup-jitter"
OOM_AFTER = PREFIX + "oom-after"
START_FAILURE = PREFIX + "start-failure"
STDOUT = PREFIX + "stdout"
SPOT_RECLAIM_AFTER = PREFIX + "spot-reclaim-after"
IMAGE_PULL_SECONDS = PREFIX + "image-pull-seconds"
START_FAILURES: tuple[str, ...] = typing.get_args(StartFailure)
MAX_STDOUT_LINES = 200
MAX_SECONDS = 7 * 24 * 3600
Lifecycle = LifecycleScript  # the parsed script, as recorded in the ContainerGroup spec


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


def parse_lifecycle(
    pod: Mapping[str, Any],
    *,
    default_startup_delay: float = 0.0,
    default_startup_jitter: float = 0.0,
    default_spot_reclaim_after: float | None = None,
    default_pull_seconds: float = 0.0,
) -> Lifecycle:
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
    policy_raw = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    policy = RestartPolicy(policy_raw) if policy_raw in set(RestartPolicy) else RestartPolicy.ALWAYS
    jitter = _seconds(annotations, STARTUP_JITTER)
    reclaim = _seconds(annotations, SPOT_RECLAIM_AFTER)
    pull = _seconds(annotations, IMAGE_PULL_SECONDS)
    failure = annotations.get(START_FAILURE)
    if failure is not None and failure not in START_FAILURES:
        raise DomainError(
            field=START_FAILURE,
            value=failure,
            allowed="one of " + ", ".join(START_FAILURES),
            why="not a simulated start failure",
        )
    stdout = tuple(annotations.get(STDOUT, "").splitlines())
    if len(stdout) > MAX_STDOUT_LINES:
        raise DomainError(
            field=STDOUT,
            value=f"{len(stdout)} lines",
            allowed=f"at most {MAX_STDOUT_LINES} lines",
            why="too many lines",
        )
    return Lifecycle(
        startup_delay=default_startup_delay if delay is None else delay,
        exit_after=exit_after,
        exit_code=code,
        restart_policy=policy,
        startup_jitter=default_startup_jitter if jitter is None else jitter,
        oom_after=_seconds(annotations, OOM_AFTER),
        start_failure=typing.cast(StartFailure | None, failure),
        stdout=list(stdout),
        spot_reclaim_after=default_spot_reclaim_after if reclaim is None else reclaim,
        pull_seconds=default_pull_seconds if pull is None else pull,
    )
