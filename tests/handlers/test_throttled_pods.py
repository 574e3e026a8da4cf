"""Pods under a profile's creation rate limit, in-process: a burst is created at once, the rest wait
Pending with ECI's reason and a Warning, are created one per period in order, and an operator restart
loses none of them and charges no group a second token."""

from __future__ import annotations

from typing import Any

from handler_helpers import Harness

from eci_operator.domain.kubetime import parse_time

LIMIT = {"creationRateLimit": {"enabled": True, "burst": 2, "perSecond": 1}}


def group(h: Harness, name: str) -> dict[str, Any]:
    body = h.server.get("containergroups", "ns", name)
    assert body is not None
    return dict(body.get("status") or {})


def created_condition(h: Harness, name: str) -> dict[str, Any]:
    pod = h.server.get("pods", "ns", name)
    assert pod is not None
    (cond,) = [c for c in pod["status"]["conditions"] if c["type"] == "ContainerInstanceCreated"]
    return dict(cond)


async def test_a_burst_then_one_per_period_and_the_waiting_pods_say_why(harness: Harness) -> None:
    harness.profile(simulation=dict(LIMIT))
    await harness.settle()
    for name in "abcd":
        harness.pod(name)
    await harness.settle()
    assert [group(harness, n)["phase"] for n in "abcd"] == ["Running", "Running", "Pending", "Pending"]
    waiting = created_condition(harness, "c")
    assert (waiting["status"], waiting["reason"]) == ("False", "Throttling")
    assert "Throttling.User" in waiting["message"]
    assert "burst of 2 and 1 per second" in waiting["message"]
    assert "instanceId" not in group(harness, "c")
    assert "Throttling" in harness.events("c")
    pod = harness.server.get("pods", "ns", "c")
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"
    await harness.advance(1)
    assert [group(harness, n)["phase"] for n in "cd"] == ["Running", "Pending"]
    await harness.advance(1)
    created = [parse_time(group(harness, n)["instanceCreatedAt"]) for n in "abcd"]
    assert [(t - created[0]).total_seconds() for t in created] == [0, 0, 1, 2]
    assert created_condition(harness, "d")["reason"] == "Created"


async def test_a_restart_keeps_the_waiting_pods_and_takes_no_second_token(harness: Harness) -> None:
    harness.profile(simulation={"creationRateLimit": {"enabled": True, "burst": 1, "perSecond": 0.1}})
    await harness.settle()
    harness.pod("a")
    harness.pod("b")
    await harness.settle()
    assert group(harness, "b")["reason"] == "Throttling"
    first = group(harness, "a")
    await harness.restart()  # a new runtime with a full bucket (one token): the waiting pod's turn
    assert group(harness, "a") == first  # adopted, not created again
    assert group(harness, "b")["phase"] == "Running"
    harness.pod("c")
    await harness.settle()
    assert group(harness, "c")["reason"] == "Throttling"  # the one token went to b, which asked first
    await harness.advance(10)
    assert group(harness, "c")["phase"] == "Running"


async def test_turning_the_limit_off_lets_the_waiting_pods_through(harness: Harness) -> None:
    harness.profile(simulation={"creationRateLimit": {"enabled": True, "burst": 1, "perSecond": 0.01}})
    await harness.settle()
    for name in "abc":
        harness.pod(name)
    await harness.settle()
    assert group(harness, "c")["reason"] == "Throttling"
    path = "/apis/eci.ask.dev/v1alpha1/eciprofiles/default"
    harness.request("PATCH", path, {"spec": {"simulation": {"creationRateLimit": {"enabled": False}}}})
    await harness.settle()
    assert {group(harness, n)["phase"] for n in "abc"} == {"Running"}
