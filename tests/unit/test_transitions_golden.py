"""The transition table, as KWOK's stage tests are: input state + clock → output state, in golden files.

Each case creates (or adopts) a group on the simulated runtime with a ManualClock, moves the clock in steps
and records, after each step, the group's phase, reason, containers, billed intervals and the transition
armed next. ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_transitions_golden.py`` regenerates
``golden/lifecycle/*.json``; review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_runtime import profile_spec, request, with_spec

from eci_operator.models.containergroup import ContainerGroupStatus, SpotSpec, SpotStrategy
from eci_operator.runtime.clock import ManualClock
from eci_operator.runtime.simulated import SimulatedRuntime

GOLDEN = Path(__file__).parent / "golden" / "lifecycle"
SPOT = {"spot": SpotSpec(strategy=SpotStrategy.AS_PRICE_GO, duration_hours=0)}

CASES: dict[str, dict[str, Any]] = {
    "start-after-delay": {"lifecycle": {"startup_delay": 5}, "steps": [4, 1, 10]},
    "exit-never-restart": {
        "lifecycle": {"exit_after": 3, "exit_code": 2, "restart_policy": "Never"},
        "steps": [3, 5],
    },
    "exit-always-restarts": {"lifecycle": {"exit_after": 2, "restart_policy": "Always"}, "steps": [2, 2, 2]},
    "oom-before-exit": {
        "lifecycle": {"exit_after": 9, "oom_after": 4, "restart_policy": "OnFailure"},
        "steps": [4, 4],
    },
    "start-failure": {"lifecycle": {"startup_delay": 1, "start_failure": "ErrImagePull"}, "steps": [5]},
    "spot-notice-then-reclaim": {
        "lifecycle": {"spot_reclaim_after": 600},
        "spec": SPOT,
        "steps": [419, 1, 180],
    },
    "pending-timeout-stops-billing": {
        "lifecycle": {"start_failure": "ErrImagePull", "restart_policy": "Never"},
        "spec": {"max_pending_minutes": 10},
        "steps": [599, 1, 60],
    },
    "no-stock-backoff": {"lifecycle": {}, "stock": {"*": 0}, "steps": [1, 2, 4]},
    "adopted-mid-start": {"lifecycle": {"startup_delay": 10}, "adopt_after": 4, "steps": [5, 1]},
}


def snapshot(runtime: SimulatedRuntime, clock: ManualClock, t: float) -> dict[str, Any]:
    group = runtime._groups.get(("ns", "g"))
    assert group is not None
    s = group.status
    return {
        "t": t,
        "phase": s.phase,
        "reason": s.reason,
        "containers": [
            {
                "name": c.name,
                "state": c.state,
                "reason": c.reason,
                "exit": c.exit_code,
                "restarts": c.restart_count,
            }
            for c in s.containers
        ],
        "billed": [
            [i.phase, (i.start - clock_start(clock)).total_seconds(), i.end is not None]
            for i in s.billed_intervals
        ],
        "next": group.armed,
    }


_STARTS: dict[int, Any] = {}


def clock_start(clock: ManualClock) -> Any:
    return _STARTS[id(clock)]


async def run_case(case: dict[str, Any]) -> list[dict[str, Any]]:
    clock = ManualClock()
    _STARTS[id(clock)] = clock.now()
    runtime = SimulatedRuntime(clock)
    if "stock" in case:
        runtime.configure(profile_spec(case["stock"]))
    req = with_spec(request("g", **case["lifecycle"]), **case.get("spec", {}))
    await runtime.create(req)
    t = 0.0
    out = [snapshot(runtime, clock, t)]
    if "adopt_after" in case:
        clock.advance(case["adopt_after"])
        t += case["adopt_after"]
        recorded: ContainerGroupStatus = runtime.get(("ns", "g"))  # type: ignore[assignment]
        runtime = SimulatedRuntime(clock)  # a restarted operator: only the record survives
        await runtime.adopt(req, recorded)
        out.append(snapshot(runtime, clock, t))
    for step in case["steps"]:
        clock.advance(step)
        t += step
        out.append(snapshot(runtime, clock, t))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
async def test_transitions_match_the_golden_file(name: str) -> None:
    actual = json.loads(json.dumps(await run_case(CASES[name]), default=str))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=1) + "\n")
    expected = json.loads(path.read_text())
    assert actual == expected, "transitions changed; regenerate with UPDATE_GOLDEN=1 and review the diff"
