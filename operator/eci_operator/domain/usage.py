"""Resource usage of the pods on virtual nodes: who uses what now, and the CPU counters that integrate it.

A kubelet reports CPU as a counter (cumulative core-seconds since the container started) and memory as a
gauge (the working set). Here the usage *rate* of a pod comes from, in this order: its fixed-usage
annotations (``eci.ask.dev/cpu-usage``, ``eci.ask.dev/memory-usage``); else the base of the ``Load`` that
selects it (``perPod``) plus its share of that Load's demand while the pod is Ready; else the idle default.
Every pod's usage is capped at its instance's size (the ECI spec, not the request). ``Meter.advance``
integrates the rates over time into counters (midpoint rule between the schedule's breakpoints), so the
counters only grow and the rate metrics-server derives from two readings is the mean usage between them. A
node's counter is the sum of what its containers added, so pods leaving a node never make it go down.
Pure: the caller passes the time and the snapshot of pods and Loads; nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eci_operator.domain.errors import DomainError
from eci_operator.domain.load import JITTER_BUCKET_SECONDS, Demand, Schedule, amount, spread, weight
from eci_operator.domain.quantity import parse_quantity
from eci_operator.domain.selectors import label_selector_matches
from eci_operator.models._base import GROUP
from eci_operator.models.load import LoadSpec

Key = tuple[str, str]
CPU_USAGE_ANNOTATION = f"{GROUP}/cpu-usage"
MEMORY_USAGE_ANNOTATION = f"{GROUP}/memory-usage"
# What a running pod uses when nothing says otherwise: enough that `kubectl top` shows a value (metrics-server
# drops a container whose counter or working set is zero), small enough to be noise for an HPA.
IDLE_CPU = 0.001  # cores (1m)
IDLE_MEMORY = 16 * 2**20  # bytes (16Mi)
# Event reasons of a bad fixed-usage annotation (a Warning on the pod)
INVALID = "InvalidUsageAnnotation"
CAPPED = "UsageAboveInstance"
NO_DEMAND = Demand(0.0, 0.0)


@dataclass(frozen=True)
class Fixed:
    """A pod's fixed usage from its annotations (None: not fixed), and what was wrong with them."""

    cpu: float | None = None
    memory: float | None = None
    problems: tuple[tuple[str, str, str], ...] = ()  # (annotation, event reason, message)


def _fixed_one(
    annotations: Mapping[str, str], name: str, cap: float, unit: str, problems: list[tuple[str, str, str]]
) -> float | None:
    raw = annotations.get(name)
    if raw is None:
        return None
    try:
        value = float(parse_quantity(raw.strip(), field=name))
    except DomainError as exc:
        problems.append((name, INVALID, f"{exc}; the annotation is ignored"))
        return None
    if value < 0:
        problems.append((name, INVALID, f"annotation {name}: {raw!r} is negative; the annotation is ignored"))
        return None
    if value > cap:
        problems.append(
            (
                name,
                CAPPED,
                f"annotation {name}: {raw!r} is above the instance's {_show(cap, unit)}; capped at it",
            )
        )
        return cap
    return value


def _show(value: float, unit: str) -> str:
    return f"{value:g} vCPU" if unit == "cpu" else f"{value / 2**30:g} GiB of memory"


def fixed_usage(annotations: Mapping[str, str], cpu_cap: float, memory_cap: float) -> Fixed:
    """Parse the fixed-usage annotations: a malformed one is ignored, one above the instance is capped."""
    problems: list[tuple[str, str, str]] = []
    cpu = _fixed_one(annotations, CPU_USAGE_ANNOTATION, cpu_cap, "cpu", problems)
    memory = _fixed_one(annotations, MEMORY_USAGE_ANNOTATION, memory_cap, "memory", problems)
    return Fixed(cpu, memory, tuple(problems))


@dataclass(frozen=True)
class PodInput:
    """One running pod as the meter sees it."""

    key: Key
    uid: str
    node: str
    labels: Mapping[str, str]
    ready: bool
    containers: tuple[tuple[str, dt.datetime], ...]  # running containers and when each started
    cpu_cap: float  # the instance's vCPU
    memory_cap: float  # the instance's memory, bytes
    fixed: Fixed = Fixed()


@dataclass(frozen=True)
class LoadInput:
    """One Load: its key (namespace, name), its spec and schedule, and when it began."""

    key: Key
    spec: LoadSpec
    schedule: Schedule
    began: dt.datetime

    @classmethod
    def of(cls, key: Key, spec: LoadSpec, began: dt.datetime) -> LoadInput:
        return cls(key, spec, Schedule(spec), began)


@dataclass
class LoadReport:
    """A Load at one instant, over all its pods: demand, what the Ready pods served, what was left."""

    pods: int = 0
    ready_pods: int = 0
    demand: Demand = NO_DEMAND
    served_cpu: float = 0.0
    served_memory: float = 0.0
    unserved_cpu: float = 0.0
    unserved_memory: float = 0.0


class Plan:
    """Which pods serve which Load and each pod's base, for one snapshot of pods and Loads."""

    def __init__(self, pods: Sequence[PodInput], loads: Sequence[LoadInput]) -> None:
        self.pods = pods
        self.loads = sorted(loads, key=lambda load: load.key)
        self.members: list[list[int]] = []
        first: dict[int, LoadInput] = {}
        for load in self.loads:
            ns = load.key[0]
            selector = load.spec.selector
            matched = [
                i for i, p in enumerate(pods) if p.key[0] == ns and label_selector_matches(selector, p.labels)
            ]
            self.members.append(matched)
            for i in matched:
                first.setdefault(i, load)
        self.base_cpu = [self._base(p, first.get(i), "cpu") for i, p in enumerate(pods)]
        self.base_memory = [self._base(p, first.get(i), "memory") for i, p in enumerate(pods)]

    @staticmethod
    def _base(pod: PodInput, load: LoadInput | None, what: str) -> float:
        fixed, cap, idle = (
            (pod.fixed.cpu, pod.cpu_cap, IDLE_CPU)
            if what == "cpu"
            else (pod.fixed.memory, pod.memory_cap, IDLE_MEMORY)
        )
        if fixed is not None:
            return fixed
        per_pod = None if load is None else getattr(load.spec.per_pod, what)
        value = idle if per_pod is None else amount(per_pod, field=f"spec.perPod.{what}")
        return min(value, cap)

    def rates(self, at: dt.datetime) -> tuple[list[float], list[float], dict[Key, LoadReport]]:
        """Each pod's CPU (cores) and memory (bytes) at ``at``, and each Load's report."""
        cpu, memory = list(self.base_cpu), list(self.base_memory)
        reports: dict[Key, LoadReport] = {}
        for load, members in zip(self.loads, self.members, strict=True):
            seconds = (at - load.began).total_seconds()
            demand = load.schedule.demand_at(seconds)
            pods = self.pods
            serving = [i for i in members if pods[i].ready]
            by_cpu = [i for i in serving if pods[i].fixed.cpu is None]
            jitter = load.spec.jitter
            weights = (
                [weight(load.spec.seed, pods[i].uid, seconds, jitter) for i in by_cpu] if jitter else None
            )
            cpu_shares, cpu_left = spread(
                demand.cpu, [max(0.0, pods[i].cpu_cap - cpu[i]) for i in by_cpu], weights
            )
            for i, share in zip(by_cpu, cpu_shares, strict=True):
                cpu[i] += share
            by_memory = [i for i in serving if pods[i].fixed.memory is None]
            mem_shares, mem_left = spread(
                demand.memory, [max(0.0, pods[i].memory_cap - memory[i]) for i in by_memory]
            )
            for i, share in zip(by_memory, mem_shares, strict=True):
                memory[i] += share
            reports[load.key] = LoadReport(
                pods=len(members),
                ready_pods=len(serving),
                demand=demand,
                served_cpu=demand.cpu - cpu_left,
                served_memory=demand.memory - mem_left,
                unserved_cpu=cpu_left,
                unserved_memory=mem_left,
            )
        return cpu, memory, reports


@dataclass(slots=True)
class ContainerReading:
    pod: Key
    uid: str
    name: str
    started: dt.datetime
    cpu_seconds: float  # cumulative core-seconds since the container started
    cpu: float  # cores now
    memory: float  # working set, bytes


@dataclass
class NodeReading:
    cpu_seconds: float = 0.0
    cpu: float = 0.0
    memory: float = 0.0


@dataclass
class Reading:
    """Everything at one instant: what ``/metrics/resource`` and ``/stats/summary`` answer."""

    at: dt.datetime
    containers: dict[Key, list[ContainerReading]] = field(default_factory=dict)  # by pod
    nodes: dict[str, NodeReading] = field(default_factory=dict)
    loads: dict[Key, LoadReport] = field(default_factory=dict)


CounterKey = tuple[str, str, dt.datetime]  # (pod uid, container, started): a restart is a new counter


class Meter:
    """The CPU counters of every running container and node, advanced to the time asked for."""

    def __init__(self) -> None:
        self.at: dt.datetime | None = None
        self.counters: dict[CounterKey, float] = {}
        self.node_counters: dict[str, float] = {}

    def advance(self, now: dt.datetime, pods: Sequence[PodInput], loads: Sequence[LoadInput]) -> Reading:
        """Integrate every counter up to ``now`` (never backwards) and read everything at ``now``."""
        plan = Plan(pods, loads)
        if self.at is not None and now > self.at:
            self._integrate(plan, self.at, now)
        self.at = now if self.at is None else max(self.at, now)
        cpu, memory, reports = plan.rates(now)
        reading = Reading(now, loads=reports)
        seen: set[CounterKey] = set()
        for i, pod in enumerate(pods):
            node = reading.nodes.setdefault(pod.node, NodeReading())
            share = 1.0 / max(1, len(pod.containers))
            for name, started in pod.containers:
                key = (pod.uid, name, started)
                seen.add(key)
                if key not in self.counters:  # first seen: as if it had used this much since it started
                    first = cpu[i] * share * max(0.0, (now - started).total_seconds())
                    self.counters[key] = first
                    self.node_counters[pod.node] = self.node_counters.get(pod.node, 0.0) + first
                reading.containers.setdefault(pod.key, []).append(
                    ContainerReading(
                        pod.key, pod.uid, name, started, self.counters[key], cpu[i] * share, memory[i] * share
                    )
                )
            node.cpu += cpu[i]
            node.memory += memory[i]
        for key in set(self.counters) - seen:
            del self.counters[key]
        for name, node in reading.nodes.items():
            node.cpu_seconds = self.node_counters.get(name, 0.0)
        return reading

    def _integrate(self, plan: Plan, start: dt.datetime, end: dt.datetime) -> None:
        """Midpoint rule between the instants where a demand jumps or bends: exact for steps and ramps
        (unless a pod reaches its cap mid-way); at most ``step`` apart only if a jitter bucket needs it."""
        points = [0.0, (end - start).total_seconds()]
        for load in plan.loads:
            offset = (start - load.began).total_seconds()
            points += [p - offset for p in load.schedule.breakpoints(offset, offset + points[1])]
            if load.spec.jitter > 0:
                first = math.floor(offset / JITTER_BUCKET_SECONDS) + 1
                last = math.ceil((offset + points[1]) / JITTER_BUCKET_SECONDS)
                points += [b * JITTER_BUCKET_SECONDS - offset for b in range(first, min(last, first + 1000))]
        edges = sorted({p for p in points if 0.0 <= p <= points[1]})
        for a, b in itertools.pairwise(edges):
            if b - a > 0:
                self._add(plan, start + dt.timedelta(seconds=(a + b) / 2), b - a)

    def _add(self, plan: Plan, mid: dt.datetime, seconds: float) -> None:
        cpu, _, _ = plan.rates(mid)
        counters, nodes = self.counters, self.node_counters
        for i, pod in enumerate(plan.pods):
            share = cpu[i] * seconds / max(1, len(pod.containers))
            added = 0.0
            for name, started in pod.containers:
                key = (pod.uid, name, started)
                if key in counters and started <= mid:
                    counters[key] += share
                    added += share
            if added:
                nodes[pod.node] = nodes.get(pod.node, 0.0) + added

    def node_cpu_seconds(self, node: str) -> float:
        return self.node_counters.get(node, 0.0)
