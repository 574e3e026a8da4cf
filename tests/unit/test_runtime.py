"""The simulated runtime, driven by a manual clock: placement, IPs, start-up, exits, adoption.

The contract part (``test_contract_*``) runs against every Runtime implementation listed in IMPLEMENTATIONS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from eci_operator.domain.lifecycle import Lifecycle
from eci_operator.models.containergroup import (
    CandidateSpec,
    ContainerGroupPhase,
    ContainerGroupSpec,
    ContainerRef,
    ContainerState,
    FailStrategy,
    ScheduleStrategy,
    SpotSpec,
    SpotStrategy,
)
from eci_operator.models.profile import VSwitch
from eci_operator.runtime.clock import ManualClock
from eci_operator.runtime.ipam import AddressExhausted, VSwitchPool
from eci_operator.runtime.protocol import GroupRequest, Key, Runtime
from eci_operator.runtime.simulated import SimulatedRuntime

VSWITCHES = (
    VSwitch(id="vsw-a", zone_id="cn-hangzhou-i", cidr="10.0.0.0/29"),
    VSwitch(id="vsw-b", zone_id="cn-hangzhou-i", cidr="10.0.1.0/29"),
)


def spec(uid: str, strategy: ScheduleStrategy = ScheduleStrategy.ORDERED) -> ContainerGroupSpec:
    return ContainerGroupSpec(
        pod_name="p",
        pod_uid=uid,
        node_name="virtual-kubelet-cn-hangzhou-i",
        profile="default",
        region_id="cn-hangzhou",
        zone_id="cn-hangzhou-i",
        vpc_id="vpc-x",
        candidates=[CandidateSpec(spec="2.0-4.0Gi", vcpu=2, memory_gib=4)],
        instance_spec="2.0-4.0Gi",
        vcpu=2,
        memory_gib=4,
        vswitch_ids=[v.id for v in VSWITCHES],
        schedule_strategy=strategy,
        security_group_ids=["sg-x"],
        spot=SpotSpec(strategy=SpotStrategy.NO_SPOT, duration_hours=0),
        fail_strategy=FailStrategy.FAIL_BACK,
        max_pending_minutes=240,
        containers=[ContainerRef(name="app", image="nginx")],
        init_containers=[ContainerRef(name="init", image="busybox")],
    )


def request(name: str, uid: str | None = None, **lifecycle: Any) -> GroupRequest:
    lc = {"startup_delay": 0.0, "exit_after": None, "exit_code": 0, "restart_policy": "Always"} | lifecycle
    recorded = spec(uid or f"uid-{name}").model_copy(
        update={"vswitches": list(VSWITCHES), "lifecycle": Lifecycle(**lc)}
    )
    return GroupRequest(namespace="ns", name=name, spec=recorded)


IMPLEMENTATIONS: dict[str, Callable[[ManualClock], Runtime]] = {"simulated": lambda c: SimulatedRuntime(c)}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def runtime_and_clock(request: pytest.FixtureRequest) -> tuple[Runtime, ManualClock]:
    clock = ManualClock()
    return IMPLEMENTATIONS[request.param](clock), clock


async def test_contract_create_is_idempotent_and_delete_forgets(runtime_and_clock: Any) -> None:
    rt, _ = runtime_and_clock
    first = await rt.create(request("a"))
    assert await rt.create(request("a")) == first
    assert rt.list_keys() == [("ns", "a")]
    final = await rt.delete(("ns", "a"))
    assert final is not None
    assert all(c.state == ContainerState.TERMINATED for c in final.containers)
    assert rt.get(("ns", "a")) is None
    assert await rt.delete(("ns", "a")) is None


async def test_contract_start_up_delay_is_announced(runtime_and_clock: Any) -> None:
    rt, clock = runtime_and_clock
    changed: list[Key] = []
    rt.subscribe(changed.append)
    status = await rt.create(request("slow", startup_delay=5))
    assert status.phase == ContainerGroupPhase.PENDING
    assert status.ip is not None
    clock.advance(4.9)
    assert changed == []
    clock.advance(0.2)
    assert changed == [("ns", "slow")]
    assert rt.get(("ns", "slow")).phase == ContainerGroupPhase.RUNNING


async def test_contract_a_new_uid_replaces_the_old_group(runtime_and_clock: Any) -> None:
    rt, _ = runtime_and_clock
    old = await rt.create(request("same", uid="u1"))
    new = await rt.create(request("same", uid="u2"))
    assert new.instance_id != old.instance_id


async def test_zero_delay_runs_at_once_with_init_containers_done() -> None:
    rt = SimulatedRuntime(ManualClock())
    status = await rt.create(request("a"))
    assert status.phase == ContainerGroupPhase.RUNNING
    states = {(c.name, c.init): c.state for c in status.containers}
    assert states == {("init", True): ContainerState.TERMINATED, ("app", False): ContainerState.RUNNING}
    assert status.instance_id
    assert status.instance_id.startswith("eci-")
    assert status.vswitch_id == "vsw-a"
    assert status.ip == "10.0.0.1"  # drawn from seed and uid among .1-.4 (.0 and the last three reserved)


async def test_ordered_falls_over_to_the_next_vswitch_and_exhaustion_waits_under_fail_back() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    ips = [(await rt.create(request(f"p{i}"))).ip for i in range(8)]
    # A /29 keeps .1-.4 (the first and the last three addresses are reserved), in a seeded-random order.
    assert ips == [
        "10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2", "10.0.1.4", "10.0.1.3", "10.0.1.2", "10.0.1.1"
    ]  # fmt: skip
    waiting = await rt.create(request("p8"))
    assert (waiting.phase, waiting.reason, waiting.ip) == (ContainerGroupPhase.PENDING, "IpExhausted", None)
    assert "no free IP address" in (waiting.message or "")
    assert "out of stock" in (waiting.message or "")  # it waits like NoStock, with ECI's message
    fast = await rt.create(with_spec(request("p9"), fail_strategy=FailStrategy.FAIL_FAST))
    assert (fast.phase, fast.reason) == (ContainerGroupPhase.SCHEDULE_FAILED, "IpExhausted")
    await rt.delete(("ns", "p1"))
    clock.advance(30)  # the next retry finds the freed address
    assert rt.get(("ns", "p8")).ip == "10.0.0.4"


async def test_random_strategy_is_seeded_by_uid() -> None:
    def randomised(i: int) -> GroupRequest:
        base = request(f"r{i}")
        return with_spec(base, schedule_strategy=ScheduleStrategy.RANDOM)

    a, b = SimulatedRuntime(ManualClock()), SimulatedRuntime(ManualClock())
    first = [(await a.create(randomised(i))).vswitch_id for i in range(6)]
    second = [(await b.create(randomised(i))).vswitch_id for i in range(6)]
    assert first == second  # deterministic
    assert set(first) == {"vsw-a", "vsw-b"}  # and not simply in order


@pytest.mark.parametrize(
    ("policy", "code", "phase", "restarts"),
    [
        ("Never", 0, ContainerGroupPhase.SUCCEEDED, 0),
        ("Never", 2, ContainerGroupPhase.FAILED, 0),
        ("OnFailure", 0, ContainerGroupPhase.SUCCEEDED, 0),
        ("OnFailure", 1, ContainerGroupPhase.RUNNING, 3),
        ("Always", 0, ContainerGroupPhase.RUNNING, 3),
    ],
)
async def test_exits_follow_the_restart_policy(
    policy: str, code: int, phase: ContainerGroupPhase, restarts: int
) -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    await rt.create(request("j", exit_after=10, exit_code=code, restart_policy=policy))
    clock.advance(35)
    status = rt.get(("ns", "j"))
    assert status is not None
    assert status.phase == phase
    app = next(c for c in status.containers if not c.init)
    assert app.restart_count == restarts
    if phase != ContainerGroupPhase.RUNNING:
        assert app.exit_code == code
        # A finished instance gives its address back: vsw-a's 4 addresses serve 4 new groups.
        ips = {(await rt.create(request(f"next{i}"))).ip for i in range(4)}
        assert ips == {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}


async def test_adopt_keeps_instance_and_ip_and_reserves_the_address() -> None:
    clock = ManualClock()
    before = SimulatedRuntime(clock)
    recorded = await before.create(request("a", startup_delay=10))
    after = SimulatedRuntime(clock)  # the operator restarted
    adopted = await after.adopt(request("a", startup_delay=10), recorded)
    assert adopted.ip == recorded.ip
    assert adopted.instance_id == recorded.instance_id
    assert (await after.create(request("b"))).ip != recorded.ip
    clock.advance(10)
    assert after.get(("ns", "a")).phase == ContainerGroupPhase.RUNNING


def test_pool_reserves_the_first_and_the_last_three_addresses() -> None:
    pool = VSwitchPool("vsw", "10.0.0.0/30")  # the first and the last three: nothing left
    assert pool.size == 0
    with pytest.raises(AddressExhausted):
        pool.allocate()
    pool = VSwitchPool("vsw", "192.168.1.0/24")  # the VPC page's example: .0, .253, .254, .255 reserved
    assert pool.size == 252
    got = {pool.allocate(f"k{i}") for i in range(252)}
    assert got == {f"192.168.1.{n}" for n in range(1, 253)}
    with pytest.raises(AddressExhausted):
        pool.allocate("one-more")
    assert not pool.reserve("192.168.1.253")
    assert not pool.reserve("10.0.0.1")


def test_pool_is_seeded_random_reproducible_and_skips_reserved_addresses() -> None:
    a, b = VSwitchPool("vsw", "192.168.0.0/24"), VSwitchPool("vsw", "192.168.0.0/24")
    first = [a.allocate(f"1:uid-{i}") for i in range(5)]
    assert first == [b.allocate(f"1:uid-{i}") for i in range(5)]  # reproducible from seed and uid
    assert first != sorted(first, key=lambda ip: int(ip.rsplit(".", 1)[1]))  # not next-fit
    other = VSwitchPool("vsw", "192.168.0.0/24")
    assert other.allocate("2:uid-0") != first[0]  # another seed, another address
    c = VSwitchPool("vsw", "192.168.0.0/24")
    assert c.reserve(first[0])  # held by an adopted group: the same key probes on
    assert c.allocate("1:uid-0") != first[0]


def test_pool_stays_cheap_on_a_slash_16_with_20000_live_groups() -> None:
    pool = VSwitchPool("vsw", "10.0.0.0/16")
    ips = {pool.allocate(f"7:uid-{i}") for i in range(20_000)}
    assert len(ips) == 20_000
    assert not ips & {"10.0.0.0", "10.0.255.253", "10.0.255.254", "10.0.255.255"}


def profile_spec(stock: dict[str, int] | None = None, available: bool = True) -> Any:
    from eci_operator.models.profile import ECIProfileSpec

    zones = [{"zoneId": "cn-hangzhou-i", "available": available, "stock": stock or {}}]
    return ECIProfileSpec.model_validate(
        {
            "regionId": "cn-hangzhou",
            "vpcId": "vpc-x",
            "securityGroupId": "sg-x",
            "vSwitches": [v.model_dump(by_alias=True) for v in VSWITCHES],
            "simulation": {"zones": zones},
        }
    )


def with_spec(req: GroupRequest, **update: Any) -> GroupRequest:
    return dataclasses.replace(req, spec=req.spec.model_copy(update=update))


async def test_fail_back_waits_with_capped_backoff_and_runs_when_stock_comes() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    rt.configure(profile_spec({"*": 0}))
    changed: list[Key] = []
    rt.subscribe(changed.append)
    status = await rt.create(request("w"))
    assert (status.phase, status.reason, status.ip) == (ContainerGroupPhase.PENDING, "NoStock", None)
    assert "out of stock" in (status.message or "")
    clock.advance(120)  # retries at 1, 2, 4, 8, 16, 30, 30, ... still nothing
    assert rt.get(("ns", "w")).reason == "NoStock"
    assert rt.zone_report("cn-hangzhou-i").exhausted
    rt.configure(profile_spec({"*": 1}))  # a profile change retries at once
    assert rt.get(("ns", "w")).phase == ContainerGroupPhase.RUNNING
    assert rt.zone_report("cn-hangzhou-i").exhausted  # the one instance uses the whole stock


async def test_a_wait_for_stock_is_never_timed_out_and_fail_fast_fails_at_once() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    rt.configure(profile_spec({"*": 0}))
    for name, strategy in (("w", FailStrategy.FAIL_BACK), ("o", FailStrategy.FAIL_OVER)):
        await rt.create(with_spec(request(name), max_pending_minutes=10, fail_strategy=strategy))
    clock.advance(25 * 3600)  # a day: still waiting (ASK keeps it Pending), not billed
    for name in ("w", "o"):
        status = rt.get(("ns", name))
        assert (status.phase, status.reason, status.billed_intervals) == (
            ContainerGroupPhase.PENDING,
            "NoStock",
            [],
        )
        assert (status.message or "").startswith(
            "Create ECI failed because the specified instance is out of stock. "
            "zone cn-hangzhou-i: tried 2.0-4.0Gi"
        )
    fast = with_spec(request("f"), fail_strategy=FailStrategy.FAIL_FAST)
    assert (await rt.create(fast)).phase == ContainerGroupPhase.SCHEDULE_FAILED


@pytest.mark.parametrize(
    ("policy", "minutes"), [("Always", 10), ("OnFailure", 10), ("Never", 10), ("Always", None)]
)
async def test_max_pending_minute_bounds_the_pending_phase_with_an_instance(
    policy: str, minutes: int | None
) -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    req = with_spec(
        request("e", start_failure="ErrImagePull", restart_policy=policy), max_pending_minutes=minutes
    )
    await rt.create(req)
    limit = 60 * (minutes or 240)  # the documented default: 240
    clock.advance(limit - 1)
    assert rt.get(("ns", "e")).phase == ContainerGroupPhase.PENDING
    clock.advance(1)
    status = rt.get(("ns", "e"))
    assert (status.phase, status.reason) == (ContainerGroupPhase.FAILED, "PendingTimeout")
    assert "ErrImagePull" in (status.message or "")
    billed = status.billed_intervals
    assert [(i.phase, (i.end - i.start).total_seconds()) for i in billed if i.end] == [
        (ContainerGroupPhase.PENDING, float(limit))
    ]  # billing stops at the timeout
    assert (await rt.create(request("next"))).ip is not None  # the instance was released
    from eci_operator.domain.phases import pod_phase

    assert pod_phase(status.phase, status.reason, policy) == ("Failed" if policy == "Never" else "Pending")


async def test_a_slow_start_counts_but_a_running_init_container_is_exempt() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    await rt.create(with_spec(request("slow", startup_delay=11 * 60), max_pending_minutes=10))
    clock.advance(10 * 60)
    assert rt.get(("ns", "slow")).reason == "PendingTimeout"  # an image pull longer than the bound
    await rt.create(with_spec(request("init", startup_delay=11 * 60), max_pending_minutes=10))
    group = rt._groups[("ns", "init")]
    containers = [
        c.model_copy(update={"state": ContainerState.RUNNING}) if c.init else c
        for c in group.status.containers
    ]
    group.status = group.status.model_copy(update={"containers": containers})
    rt.arm(group)
    clock.advance(10 * 60 + 1)
    assert rt.get(("ns", "init")).phase == ContainerGroupPhase.PENDING
    clock.advance(60)
    assert rt.get(("ns", "init")).phase == ContainerGroupPhase.RUNNING


async def test_candidates_are_walked_in_order_and_stock_is_reused() -> None:
    rt = SimulatedRuntime(ManualClock())
    rt.configure(profile_spec({"2-4Gi": 1}))
    two = [
        CandidateSpec(spec="2.0-4.0Gi", vcpu=2, memory_gib=4),
        CandidateSpec(spec="4.0-8.0Gi", vcpu=4, memory_gib=8),
    ]
    first = await rt.create(with_spec(request("a"), candidates=two))
    second = await rt.create(with_spec(request("b"), candidates=two))
    assert (first.instance_spec, second.instance_spec) == ("2.0-4.0Gi", "4.0-8.0Gi")
    await rt.delete(("ns", "a"))
    assert (await rt.create(with_spec(request("c"), candidates=two))).instance_spec == "2.0-4.0Gi"


async def test_an_outage_fails_the_zone_and_a_new_group_there_fails_at_once() -> None:
    rt = SimulatedRuntime(ManualClock())
    rt.configure(profile_spec())
    await rt.create(request("a"))
    changed: list[Key] = []
    rt.subscribe(changed.append)
    rt.configure(profile_spec(available=False))
    assert changed == [("ns", "a")]
    status = rt.get(("ns", "a"))
    assert (status.phase, status.reason) == (ContainerGroupPhase.FAILED, "StockClose")
    assert (status.message or "").startswith(
        "Create ECI failed because current zone closed or limited without living instance. "
    )
    assert {c.state for c in status.containers} == {ContainerState.TERMINATED}
    new = await rt.create(request("b"))
    assert (new.phase, new.reason) == (ContainerGroupPhase.SCHEDULE_FAILED, "StockClose")


@pytest.mark.parametrize(
    ("limit", "fallback", "expected"),
    [("100", False, "spot"), ("0.001", False, "none"), ("0.001", True, "on-demand")],
)
async def test_spot_price_limit_and_fallback(limit: str, fallback: bool, expected: str) -> None:
    rt = SimulatedRuntime(ManualClock())
    rt.configure(profile_spec())
    spot = SpotSpec(
        strategy=SpotStrategy.WITH_PRICE_LIMIT, price_limit=limit, duration_hours=0, fallback=fallback
    )
    status = await rt.create(with_spec(request("s"), spot=spot, fail_strategy=FailStrategy.FAIL_FAST))
    on_demand = "0.00012252"
    if expected == "none":
        assert status.phase == ContainerGroupPhase.SCHEDULE_FAILED
        assert "spot price above the limit" in (status.message or "")
    elif expected == "on-demand":
        assert status.price_per_second == on_demand
    else:
        assert status.price_per_second is not None
        assert float(status.price_per_second) < float(on_demand)


async def test_spot_reclaim_posts_a_notice_then_expires() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    rt.configure(profile_spec())
    spot = SpotSpec(strategy=SpotStrategy.AS_PRICE_GO, duration_hours=1, fallback=False)
    req = with_spec(request("s", spot_reclaim_after=600), spot=spot)
    await rt.create(req)
    clock.advance(3600 + 600 - 181)
    assert rt.get(("ns", "s")).reason is None
    clock.advance(2)
    noticed = rt.get(("ns", "s"))
    assert (noticed.reason, noticed.message) == ("SpotToBeReleased", "Spot ECI will be released in 3 minutes")
    clock.advance(180)
    status = rt.get(("ns", "s"))
    assert (status.phase, status.reason) == (ContainerGroupPhase.EXPIRED, "BidFailed")
    assert status.billed_intervals[-1].end is not None
    app = next(c for c in status.containers if not c.init)
    assert (app.state, app.exit_code) == (ContainerState.TERMINATED, 137)  # not "Running" in the record


async def test_billed_intervals_follow_billed_phases() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    await rt.create(request("b", startup_delay=2, exit_after=10, restart_policy="Never"))
    clock.advance(20)
    status = rt.get(("ns", "b"))
    phases = [(i.phase, (i.end - i.start).total_seconds()) for i in status.billed_intervals if i.end]
    assert phases == [(ContainerGroupPhase.PENDING, 2.0), (ContainerGroupPhase.RUNNING, 10.0)]


async def test_oom_kill_and_start_failure_and_logs() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    await rt.create(request("o", oom_after=5, restart_policy="Never", stdout=("hi",)))
    clock.advance(6)
    status = rt.get(("ns", "o"))
    app = next(c for c in status.containers if not c.init)
    assert (app.exit_code, app.reason, status.phase) == (137, "OOMKilled", ContainerGroupPhase.FAILED)
    texts = [line.text for line in rt.logs(("ns", "o"), "app") or []]
    assert "hi" in texts
    assert any("OOMKilled" in t for t in texts)
    failing = await rt.create(request("e", start_failure="ErrImagePull"))
    assert (failing.phase, failing.reason) == (ContainerGroupPhase.PENDING, "ErrImagePull")
    assert next(c for c in failing.containers if not c.init).reason == "ErrImagePull"


J = VSwitch(id="vsw-j", zone_id="cn-hangzhou-j", cidr="10.0.2.0/29")


def two_zone_profile(i: dict[str, Any], j: dict[str, Any]) -> Any:
    from eci_operator.models.profile import ECIProfileSpec

    return ECIProfileSpec.model_validate(
        {
            "regionId": "cn-hangzhou",
            "vpcId": "vpc-x",
            "securityGroupId": "sg-x",
            "vSwitches": [v.model_dump(by_alias=True) for v in (*VSWITCHES, J)],
            "simulation": {
                "zones": [{"zoneId": "cn-hangzhou-i", **i}, {"zoneId": "cn-hangzhou-j", **j}],
            },
        }
    )


def spanning(name: str) -> GroupRequest:
    """A pod bound to zone i whose vSwitches also allow zone j (recorded: its zone's first)."""
    base = request(name)
    return with_spec(base, vswitches=[*VSWITCHES, J], vswitch_ids=[*base.spec.vswitch_ids, J.id])


async def test_cross_zone_fail_over_creates_the_instance_in_another_allowed_zone() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    rt.configure(two_zone_profile({"stock": {"*": 0}}, {"stock": {"*": 1}}))
    status = await rt.create(spanning("x"))
    assert (status.phase, status.zone_id, status.vswitch_id) == (
        ContainerGroupPhase.RUNNING,
        "cn-hangzhou-j",
        "vsw-j",
    )
    assert (status.ip or "").startswith("10.0.2.")
    assert rt.zone_report("cn-hangzhou-j").exhausted  # counted in the zone it runs in
    # after an operator restart the adopted group holds zone j's stock and address again
    again = SimulatedRuntime(clock)
    again.configure(two_zone_profile({"stock": {"*": 0}}, {"stock": {"*": 1}}))
    await again.adopt(spanning("x"), status)
    assert again.zone_report("cn-hangzhou-j").exhausted
    await again.delete(("ns", "x"))
    assert not again.zone_report("cn-hangzhou-j").exhausted  # released in zone j, not in zone i
    assert again.zone_report("cn-hangzhou-i").exhausted


async def test_every_allowed_zone_failing_names_each_zone_reason() -> None:
    clock = ManualClock()
    rt = SimulatedRuntime(clock)
    rt.configure(two_zone_profile({"available": False}, {"stock": {"*": 0}}))
    waiting = await rt.create(spanning("w"))
    assert (waiting.phase, waiting.reason) == (ContainerGroupPhase.PENDING, "NoStock")  # zone j may clear
    message = waiting.message or ""
    assert message.startswith("Create ECI failed because the specified instance is out of stock. ")
    assert "cn-hangzhou-i: StockClose (zone cn-hangzhou-i is closed (simulated outage))" in message
    assert "cn-hangzhou-j: NoStock (zone cn-hangzhou-j: tried 2.0-4.0Gi)" in message
    rt.configure(two_zone_profile({"available": False}, {"stock": {"*": 1}}))  # stock comes in zone j
    assert (rt.get(("ns", "w")).phase, rt.get(("ns", "w")).zone_id) == (
        ContainerGroupPhase.RUNNING,
        "cn-hangzhou-j",
    )
    rt.configure(two_zone_profile({"available": False}, {"available": False}))
    assert rt.get(("ns", "w")).reason == "StockClose"  # its instance's zone closed
    failed = await rt.create(spanning("f"))
    assert (failed.phase, failed.reason) == (ContainerGroupPhase.SCHEDULE_FAILED, "StockClose")
    assert (failed.message or "").startswith(
        "Create ECI failed because current zone closed or limited without living instance. "
        "cn-hangzhou-i: StockClose"
    )
    assert "cn-hangzhou-j: StockClose" in (failed.message or "")
