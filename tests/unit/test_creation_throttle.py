"""ECI's CreateContainerGroup rate limit: the token bucket (pure) and the runtime's line of waiting groups,
on a manual clock — burst then rate, first come first served, one token per group (not again after a
stock-out or on adoption), a limit turned off or changed, a deleted waiter, and the ConfigMap annotations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eci_operator.domain.configmap import simulation_annotations
from eci_operator.domain.errors import DomainError, DomainErrors
from eci_operator.domain.profiles import load_profile
from eci_operator.domain.token_bucket import TokenBucket
from eci_operator.models.containergroup import (
    CandidateSpec,
    ContainerGroupPhase,
    ContainerGroupSpec,
    ContainerGroupStatus,
    ContainerRef,
    LifecycleScript,
)
from eci_operator.models.profile import ECIProfileSpec, VSwitch
from eci_operator.runtime.clock import ManualClock
from eci_operator.runtime.protocol import GroupRequest, Key
from eci_operator.runtime.simulated import SimulatedRuntime
from eci_operator.runtime.throttle import THROTTLING

P = ContainerGroupPhase
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ZONE = "cn-hangzhou-i"
VSW = VSwitch(id="vsw-t", zone_id=ZONE, cidr="10.9.0.0/24")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------ the bucket
def test_a_full_bucket_gives_its_burst_at_once_then_one_token_per_period() -> None:
    bucket = TokenBucket.full(3, 2.0, T0)
    assert [bucket.take(T0) for _ in range(4)] == [True, True, True, False]
    assert bucket.next_token_at(T0) == at(0.5)
    assert not bucket.take(at(0.49))
    assert bucket.take(at(0.5))
    assert not bucket.take(at(0.5))


def test_an_idle_bucket_refills_up_to_its_burst_only() -> None:
    bucket = TokenBucket.full(2, 10.0, T0)
    assert [bucket.take(T0), bucket.take(T0)] == [True, True]
    assert [bucket.take(at(3600)) for _ in range(3)] == [True, True, False]


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = TokenBucket.full(1, 1.0, at(10))
    assert bucket.take(at(10))
    assert not bucket.take(at(5))
    assert bucket.next_token_at(at(5)) == at(11)


@pytest.mark.parametrize(("burst", "rate", "calls"), [(1, 1.0, 50), (10, 20.0, 200), (100, 20.0, 1000)])
def test_over_any_stretch_at_most_burst_plus_rate_times_its_length_are_taken(
    burst: int, rate: float, calls: int
) -> None:
    """Whoever asks as often as possible gets exactly the documented figures."""
    bucket, now, times = TokenBucket.full(burst, rate, T0), T0, []
    while len(times) < calls:
        if bucket.take(now):
            times.append(now)
        else:
            now = bucket.next_token_at(now)
    for i, start in enumerate(times):
        for j in (i + burst, len(times) - 1):
            if j < len(times):
                span = (times[j] - start).total_seconds()
                assert j - i + 1 <= burst + rate * span + 1e-6
    assert (times[-1] - times[0]).total_seconds() == pytest.approx((calls - burst) / rate)


def test_resizing_keeps_the_tokens_counted_capped_at_the_new_burst() -> None:
    bucket = TokenBucket.full(100, 20.0, T0)
    bucket.resize(5, 1.0, T0)
    assert sum(bucket.take(T0) for _ in range(10)) == 5
    assert bucket.next_token_at(T0) == at(1)


# ----------------------------------------------------------------------------------------- the runtime
def profile(
    enabled: bool = True, burst: int = 2, per_second: float = 1.0, stock: int | None = None, up: bool = True
) -> Any:
    zones = [{"zoneId": ZONE, "available": up, "stock": {} if stock is None else {"*": stock}}]
    return ECIProfileSpec.model_validate(
        {
            "regionId": "cn-hangzhou",
            "vpcId": "vpc-x",
            "securityGroupId": "sg-x",
            "vSwitches": [VSW.model_dump(by_alias=True)],
            "simulation": {
                "zones": zones,
                "creationRateLimit": {"enabled": enabled, "burst": burst, "perSecond": per_second},
            },
        }
    )


def request(name: str, profile_name: str = "acct") -> GroupRequest:
    spec = ContainerGroupSpec(
        pod_name=name,
        pod_uid=f"uid-{name}",
        node_name=f"virtual-kubelet-{ZONE}",
        profile=profile_name,
        region_id="cn-hangzhou",
        zone_id=ZONE,
        candidates=[CandidateSpec(spec="2.0-4.0Gi", vcpu=2, memory_gib=4)],
        instance_spec="2.0-4.0Gi",
        vcpu=2,
        memory_gib=4,
        vswitch_ids=[VSW.id],
        vswitches=[VSW],
        security_group_ids=["sg-x"],
        lifecycle=LifecycleScript(),
        containers=[ContainerRef(name="app", image="nginx")],
    )
    return GroupRequest(namespace="ns", name=name, spec=spec)


def runtime(**limit: Any) -> tuple[SimulatedRuntime, ManualClock, list[Key]]:
    clock = ManualClock(T0)
    rt = SimulatedRuntime(clock)
    rt.configure(profile(**limit), name="acct")
    changed: list[Key] = []
    rt.subscribe(changed.append)
    return rt, clock, changed


def state(rt: SimulatedRuntime, name: str) -> ContainerGroupStatus:
    status = rt.get(("ns", name))
    assert status is not None
    return status


def created_at(rt: SimulatedRuntime, name: str) -> dt.datetime | None:
    return state(rt, name).instance_created_at


async def test_a_burst_is_created_at_once_and_the_rest_wait_pending_then_come_one_per_period() -> None:
    rt, clock, changed = runtime(burst=2, per_second=1.0)
    first = [await rt.create(request(f"g{i}")) for i in range(5)]
    assert [s.phase for s in first] == [P.RUNNING, P.RUNNING, P.PENDING, P.PENDING, P.PENDING]
    waiting = first[2]
    assert (waiting.reason, waiting.instance_id, waiting.ip) == (THROTTLING, None, None)
    assert "Throttling.User" in str(waiting.message)
    assert "burst of 2 and 1 per second" in str(waiting.message)
    assert waiting.billed_intervals == []  # no instance yet: nothing billed
    assert rt.throttle.waiting("acct") == [("ns", "g2"), ("ns", "g3"), ("ns", "g4")]
    clock.advance(1)
    assert changed == [("ns", "g2")]
    clock.advance(2)
    assert [created_at(rt, f"g{i}") for i in range(5)] == [T0, T0, at(1), at(2), at(3)]
    assert rt.throttle.waiting("acct") == []


async def test_a_new_group_waits_behind_the_ones_in_line_even_when_a_token_has_come() -> None:
    rt, clock, _ = runtime(burst=1, per_second=1.0)
    for name in ("a", "b", "c"):
        await rt.create(request(name))
    clock.advance(0.5)
    late = await rt.create(request("d"))
    assert late.reason == THROTTLING
    clock.advance(10)
    order = sorted("abcd", key=lambda n: created_at(rt, n) or T0)
    assert order == ["a", "b", "c", "d"]
    assert created_at(rt, "d") == at(3)


async def test_profiles_are_accounts_of_their_own_and_an_unlimited_one_never_waits() -> None:
    rt, _, _ = runtime(burst=1, per_second=1.0)
    rt.configure(profile(enabled=False), name="free")
    statuses = [await rt.create(request(f"f{i}", "free")) for i in range(20)]
    assert {s.phase for s in statuses} == {P.RUNNING}
    assert (await rt.create(request("a"))).phase == P.RUNNING
    assert (await rt.create(request("b"))).reason == THROTTLING


async def test_a_group_that_got_its_token_is_not_charged_again_while_it_waits_for_stock() -> None:
    rt, clock, _ = runtime(burst=1, per_second=0.01, stock=0)
    status = await rt.create(request("a"))
    assert status.reason == "NoStock"  # accepted by ECI, which retries inside (fail-back)
    rt.configure(profile(burst=1, per_second=0.01, stock=1), name="acct")
    assert created_at(rt, "a") == T0  # placed at once: no token asked for again
    assert (await rt.create(request("b"))).reason == THROTTLING
    clock.advance(30)
    assert state(rt, "b").reason == THROTTLING


async def test_adoption_after_a_restart_takes_no_token_and_a_recorded_waiter_gets_back_in_line() -> None:
    rt, clock, _ = runtime(burst=1, per_second=1.0)
    running = await rt.create(request("a"))
    waiting = await rt.create(request("b"))
    assert waiting.reason == THROTTLING
    clock.advance(0.2)
    again = SimulatedRuntime(clock)  # the operator restarts: a new runtime, a full bucket
    again.configure(profile(burst=1, per_second=1.0), name="acct")
    assert (await again.adopt(request("a"), running)).instance_id == running.instance_id
    assert (await again.adopt(request("b"), waiting)).reason is None  # the full bucket's token
    assert state(again, "b").instance_created_at == at(0.2)
    third = SimulatedRuntime(clock)
    third.configure(profile(burst=1, per_second=1.0), name="acct")
    await third.create(request("new"))  # takes the token
    adopted = await third.adopt(request("c"), ContainerGroupStatus.model_validate(waiting.to_dict()))
    assert adopted.reason == THROTTLING
    late = await third.create(request("d"))
    assert late.reason == THROTTLING
    clock.advance(1)
    assert state(third, "c").phase == P.RUNNING
    assert state(third, "d").reason == THROTTLING


async def test_the_line_keeps_the_order_of_asking_across_adoption() -> None:
    """A group recorded as throttled asked before any group created after the restart."""
    rt, clock, _ = runtime(burst=1, per_second=1.0)
    await rt.create(request("a"))
    recorded = await rt.create(request("b"))
    clock.advance(0.1)
    again = SimulatedRuntime(clock)
    again.configure(profile(burst=1, per_second=1.0), name="acct")
    await again.create(request("x"))  # a new pod got in first, taking the token
    await again.create(request("y"))
    await again.adopt(request("b"), recorded)
    assert again.throttle.waiting("acct") == [("ns", "b"), ("ns", "y")]


async def test_turning_the_limit_off_lets_every_waiter_through_and_a_new_rate_applies_at_once() -> None:
    rt, clock, changed = runtime(burst=1, per_second=0.1)
    for name in "abcd":
        await rt.create(request(name))
    rt.configure(profile(burst=1, per_second=2.0), name="acct")
    clock.advance(0.5)
    assert created_at(rt, "b") == at(0.5)
    rt.configure(profile(enabled=False), name="acct")
    assert {created_at(rt, n) for n in "cd"} == {at(0.5)}
    assert changed == [("ns", "b"), ("ns", "c"), ("ns", "d")]


async def test_a_group_deleted_while_it_waits_leaves_the_line() -> None:
    rt, clock, _ = runtime(burst=1, per_second=1.0)
    for name in "abc":
        await rt.create(request(name))
    await rt.delete(("ns", "b"))
    assert rt.throttle.waiting("acct") == [("ns", "c")]
    clock.advance(1)
    assert created_at(rt, "c") == at(1)


async def test_an_outage_does_not_fail_a_group_waiting_for_a_token() -> None:
    rt, clock, _ = runtime(burst=1, per_second=1.0)
    await rt.create(request("a"))
    await rt.create(request("b"))
    rt.configure(profile(burst=1, per_second=1.0, up=False), name="acct")
    assert state(rt, "a").phase == P.FAILED
    assert state(rt, "b").reason == THROTTLING
    clock.advance(1)
    assert state(rt, "b").reason == "StockClose"


# ------------------------------------------------------------------------------- the ConfigMap path
def test_the_configmap_annotations_turn_the_limit_on_and_a_bad_value_is_named() -> None:
    prefix = "simulation.eci.ask.dev/"
    assert simulation_annotations({prefix + "creationRateLimitPerSecond": "5"}) == {
        "creationRateLimit": {"enabled": True, "perSecond": 5.0}
    }
    with pytest.raises(DomainError) as caught:
        simulation_annotations({prefix + "creationRateLimitBurst": "0"})
    assert "creationRateLimitBurst" in str(caught.value)
    assert "a whole number > 0" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("perSecond", 0, "> 0"),
        ("burst", 0, ">= 1"),
        ("burst", 2.5, "integer"),
        ("perSecond", "fast", "number"),
    ],
)
def test_a_bad_limit_in_a_profile_is_refused_naming_the_field_and_what_is_allowed(
    field: str, value: Any, allowed: str
) -> None:
    document = {
        "metadata": {"name": "p"},
        "spec": {
            **profile().model_dump(by_alias=True, exclude={"simulation"}),
            "simulation": {"creationRateLimit": {"enabled": True, field: value}},
        },
    }
    with pytest.raises(DomainErrors) as caught:
        load_profile(document)
    (error,) = caught.value.errors
    assert str(error).startswith(f"spec.simulation.creationRateLimit.{field}: {value!r}")
    assert allowed in str(error)
