"""The load model: schedule (steps, ramps, spikes, repeat), spread with caps, unserved demand, CPU counters.

Pure functions and the meter, driven by explicit instants (the manual clock's job in the handlers).
"""

from __future__ import annotations

import datetime as dt

import pytest

from eci_operator.domain.load import Schedule, spread, weight
from eci_operator.domain.usage import (
    CPU_USAGE_ANNOTATION,
    IDLE_CPU,
    IDLE_MEMORY,
    MEMORY_USAGE_ANNOTATION,
    LoadInput,
    Meter,
    PodInput,
    fixed_usage,
)
from eci_operator.models.load import LoadSpec

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
GI = 2**30


def spec(**extra: object) -> LoadSpec:
    body: dict[str, object] = {
        "selector": {"matchLabels": {"app": "web"}},
        "schedule": [{"durationSeconds": 60, "cpu": "4"}],
    }
    body.update(extra)
    return LoadSpec.model_validate(body)


def pod(
    name: str, *, vcpu: float = 2.0, ready: bool = True, node: str = "n1", **annotations: str
) -> PodInput:
    return PodInput(
        key=("ns", name),
        uid=f"uid-{name}",
        node=node,
        labels={"app": "web"},
        ready=ready,
        containers=(("c", T0),),
        cpu_cap=vcpu,
        memory_cap=vcpu * 2 * GI,
        fixed=fixed_usage(annotations, vcpu, vcpu * 2 * GI),
    )


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "cpu"),
    [
        (-1, 0.0),
        (0, 1.0),
        (5, 1.0),
        (10, 2.0),
        (15, 3.0),
        (20, 0.5),
        (25, 2.5),
        (29, 0.5),
        (30, 0.0),
        (100, 0.0),
    ],
)
def test_schedule_steps_ramps_and_spikes(seconds: float, cpu: float) -> None:
    schedule = Schedule(
        spec(
            schedule=[
                {"durationSeconds": 10, "cpu": "1"},
                {"durationSeconds": 10, "cpu": "2", "cpuTo": "4"},
                {"durationSeconds": 10, "cpu": "500m"},
            ],
            spikes=[{"atSeconds": 24, "durationSeconds": 2, "cpu": "2"}],
        )
    )
    assert schedule.demand_at(seconds).cpu == pytest.approx(cpu)


def test_schedule_repeats() -> None:
    schedule = Schedule(
        spec(schedule=[{"durationSeconds": 10, "cpu": "1"}, {"durationSeconds": 10, "cpu": "3"}], repeat=True)
    )
    assert [schedule.demand_at(s).cpu for s in (5, 15, 25, 35, 205)] == [1, 3, 1, 3, 1]


def test_memory_ramps_in_bytes() -> None:
    schedule = Schedule(spec(schedule=[{"durationSeconds": 10, "memory": "1Gi", "memoryTo": "3Gi"}]))
    assert schedule.demand_at(5).memory == pytest.approx(2 * GI)


def test_spread_evenly_then_capped_with_unserved() -> None:
    assert spread(4, [2, 2, 2, 2]) == ([1, 1, 1, 1], 0.0)
    shares, left = spread(6, [1, 4, 4])
    assert shares == pytest.approx([1, 2.5, 2.5])
    assert left == 0.0
    shares, left = spread(10, [1, 2, 2])
    assert shares == pytest.approx([1, 2, 2])
    assert left == pytest.approx(5)
    assert spread(3, []) == ([], 3)


def test_scaling_out_lowers_each_share() -> None:
    one, _ = spread(4, [2])
    eight, left = spread(4, [2] * 8)
    assert one == [2]
    assert eight == [0.5] * 8
    assert left == 0


def test_jitter_is_deterministic_and_bounded() -> None:
    ws = [weight(7, f"uid-{i}", 15, 0.2) for i in range(50)]
    assert ws == [weight(7, f"uid-{i}", 15, 0.2) for i in range(50)]
    assert all(0.8 <= w <= 1.2 for w in ws)
    assert len(set(ws)) > 1
    assert weight(7, "uid-1", 15, 0.0) == 1.0
    shares, _ = spread(3, [2, 2, 2], ws[:3])
    assert sum(shares) == pytest.approx(3)


def test_meter_spreads_a_load_over_ready_pods_capped_at_the_instance() -> None:
    load = LoadInput.of(("ns", "l"), spec(schedule=[{"durationSeconds": 60, "cpu": "5"}]), T0)
    pods = [pod("a", vcpu=1), pod("b", vcpu=4), pod("c", ready=False)]
    reading = Meter().advance(at(10), pods, [load])
    cpu = {k[1]: v[0].cpu for k, v in reading.containers.items()}
    # base (idle 1m) plus share; the not-Ready pod only has its base
    assert cpu["a"] == pytest.approx(1.0)
    assert cpu["b"] == pytest.approx(4.0)
    assert cpu["c"] == pytest.approx(IDLE_CPU)
    report = reading.loads[("ns", "l")]
    assert (report.pods, report.ready_pods) == (3, 2)
    assert (
        report.served_cpu == pytest.approx(5 - 2 * IDLE_CPU) or report.served_cpu + report.unserved_cpu == 5
    )
    assert report.unserved_cpu == pytest.approx(2 * IDLE_CPU)


def test_unserved_demand_when_pods_are_full() -> None:
    load = LoadInput.of(
        ("ns", "l"), spec(schedule=[{"durationSeconds": 60, "cpu": "10"}], perPod={"cpu": "0"}), T0
    )
    report = Meter().advance(at(1), [pod("a", vcpu=2), pod("b", vcpu=2)], [load]).loads[("ns", "l")]
    assert report.served_cpu == pytest.approx(4)
    assert report.unserved_cpu == pytest.approx(6)


def test_counters_integrate_a_ramp_and_only_grow() -> None:
    load = LoadInput.of(
        ("ns", "l"),
        spec(schedule=[{"durationSeconds": 100, "cpu": "0", "cpuTo": "1"}], perPod={"cpu": "0"}),
        T0,
    )
    meter = Meter()
    pods = [pod("a", vcpu=2)]
    seen = []
    for s in (0, 10, 25, 50, 100, 120):
        reading = meter.advance(at(s), pods, [load])
        seen.append(reading.containers[("ns", "a")][0].cpu_seconds)
    assert seen == sorted(seen)
    # integral of t/100 from 0 to 100 = 50 core-seconds, then 0 demand
    assert seen[4] == pytest.approx(50, rel=1e-3)
    assert seen[5] == pytest.approx(50, rel=1e-3)
    node = meter.advance(at(130), pods, [load]).nodes["n1"]
    assert node.cpu_seconds == pytest.approx(50, rel=1e-3)


def test_counter_starts_at_the_rate_since_the_container_started() -> None:
    reading = Meter().advance(at(100), [pod("a", **{CPU_USAGE_ANNOTATION: "500m"})], [])
    assert reading.containers[("ns", "a")][0].cpu_seconds == pytest.approx(50)


def test_node_counter_never_goes_down_when_pods_leave() -> None:
    meter = Meter()
    a, b = pod("a", **{CPU_USAGE_ANNOTATION: "1"}), pod("b", **{CPU_USAGE_ANNOTATION: "1"})
    first = meter.advance(at(10), [a, b], []).nodes["n1"].cpu_seconds
    second = meter.advance(at(20), [a], []).nodes["n1"].cpu_seconds
    assert first == pytest.approx(20)
    assert second == pytest.approx(30)


def test_idle_default_and_fixed_annotations() -> None:
    reading = Meter().advance(at(1), [pod("idle"), pod("fixed", **{MEMORY_USAGE_ANNOTATION: "512Mi"})], [])
    idle, fixed = reading.containers[("ns", "idle")][0], reading.containers[("ns", "fixed")][0]
    assert (idle.cpu, idle.memory) == (IDLE_CPU, IDLE_MEMORY)
    assert fixed.memory == 512 * 2**20


@pytest.mark.parametrize(
    ("annotations", "cpu", "memory", "problem"),
    [
        ({CPU_USAGE_ANNOTATION: "0.5"}, 0.5, None, None),
        ({CPU_USAGE_ANNOTATION: "500m", MEMORY_USAGE_ANNOTATION: "1Gi"}, 0.5, GI, None),
        ({CPU_USAGE_ANNOTATION: "lots"}, None, None, CPU_USAGE_ANNOTATION),
        ({CPU_USAGE_ANNOTATION: "8"}, 2.0, None, CPU_USAGE_ANNOTATION),
        ({MEMORY_USAGE_ANNOTATION: "64Gi"}, None, 4 * GI, MEMORY_USAGE_ANNOTATION),
        ({MEMORY_USAGE_ANNOTATION: "-1Mi"}, None, None, MEMORY_USAGE_ANNOTATION),
    ],
)
def test_fixed_usage_annotations(
    annotations: dict[str, str], cpu: float | None, memory: float | None, problem: str | None
) -> None:
    fixed = fixed_usage(annotations, 2.0, 4 * GI)
    assert (fixed.cpu, fixed.memory) == (cpu, memory)
    assert [name for name, _, _ in fixed.problems] == ([problem] if problem else [])
    for name, _, message in fixed.problems:
        assert name in message


def test_fixed_cpu_pods_take_no_load() -> None:
    load = LoadInput.of(
        ("ns", "l"), spec(schedule=[{"durationSeconds": 60, "cpu": "2"}], perPod={"cpu": "0"}), T0
    )
    reading = Meter().advance(at(1), [pod("a", **{CPU_USAGE_ANNOTATION: "100m"}), pod("b")], [load])
    assert reading.containers[("ns", "a")][0].cpu == pytest.approx(0.1)
    assert reading.containers[("ns", "b")][0].cpu == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"selector": {}, "schedule": [{"durationSeconds": 1}]}, "selector must name at least one label"),
        ({"selector": {"matchLabels": {"a": "b"}}, "schedule": []}, "at least 1 item"),
        (
            {"selector": {"matchLabels": {"a": "b"}}, "schedule": [{"durationSeconds": 0}]},
            "greater than or equal to 1",
        ),
        (
            {"selector": {"matchLabels": {"a": "b"}}, "schedule": [{"durationSeconds": 5, "cpu": "lots"}]},
            "pattern",
        ),
        (
            {
                "selector": {"matchLabels": {"a": "b"}},
                "schedule": [{"durationSeconds": 5}],
                "spikes": [{"atSeconds": 5, "durationSeconds": 1, "cpu": "1"}],
            },
            "spikes[0].atSeconds 5 is not inside the schedule",
        ),
    ],
)
def test_bad_loads_are_refused_naming_the_field(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        LoadSpec.model_validate(body)
