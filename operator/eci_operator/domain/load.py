"""A Load's demand over time, and how a demand is shared by the pods that serve it.

``Schedule`` turns a ``LoadSpec`` into a function of the seconds since the Load began: the segment in
force (a step, or a linear ramp from ``cpu`` to ``cpuTo``), plus any spike, repeated if asked, zero after
the end otherwise. ``spread`` shares a total over slots with caps (each pod's instance vCPU or memory) as a
Service would: in proportion to the weights, no slot above its cap, what no one can take is unserved.
``weights`` gives the deterministic jitter (``seed``, the pod's uid and the 10-second bucket). Pure: no
clock, no I/O; amounts are cores and bytes as floats.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from eci_operator.domain.quantity import parse_quantity
from eci_operator.models.load import LoadSpec

JITTER_BUCKET_SECONDS = 10
_EPSILON = 1e-12


@dataclass(frozen=True)
class Demand:
    """What a Load asks of all its pods together at one instant (cores, bytes)."""

    cpu: float
    memory: float


def amount(value: str | None, *, field: str) -> float:
    """A quantity of the Load spec as a float (cores for CPU, bytes for memory); "0" when unset."""
    return float(parse_quantity(value if value is not None else "0", field=field))


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    cpu: tuple[float, float]
    memory: tuple[float, float]

    def at(self, seconds: float) -> Demand:
        into = (seconds - self.start) / (self.end - self.start)
        return Demand(
            self.cpu[0] + (self.cpu[1] - self.cpu[0]) * into,
            self.memory[0] + (self.memory[1] - self.memory[0]) * into,
        )


class Schedule:
    """The demand of one Load as a function of the seconds since it began."""

    def __init__(self, spec: LoadSpec) -> None:
        self.segments: list[_Segment] = []
        start = 0.0
        for i, seg in enumerate(spec.schedule):
            cpu = amount(seg.cpu, field=f"spec.schedule[{i}].cpu")
            memory = amount(seg.memory, field=f"spec.schedule[{i}].memory")
            cpu_to = cpu if seg.cpu_to is None else amount(seg.cpu_to, field=f"spec.schedule[{i}].cpuTo")
            mem_to = (
                memory
                if seg.memory_to is None
                else amount(seg.memory_to, field=f"spec.schedule[{i}].memoryTo")
            )
            end = start + seg.duration_seconds
            self.segments.append(_Segment(start, end, (cpu, cpu_to), (memory, mem_to)))
            start = end
        self.length = start
        self.repeat = spec.repeat
        self.spikes = [
            (
                float(s.at_seconds),
                float(s.at_seconds + s.duration_seconds),
                amount(s.cpu, field=f"spec.spikes[{i}].cpu"),
            )
            for i, s in enumerate(spec.spikes)
        ]
        self._starts = [s.start for s in self.segments]

    def demand_at(self, seconds: float) -> Demand:
        """The demand ``seconds`` after the Load began (zero before it, and after the end unless repeated)."""
        if seconds < 0 or (seconds >= self.length and not self.repeat):
            return Demand(0.0, 0.0)
        seconds %= self.length
        segment = self.segments[bisect.bisect_right(self._starts, seconds) - 1]
        demand = segment.at(seconds)
        extra = sum(cpu for start, end, cpu in self.spikes if start <= seconds < end)
        return Demand(demand.cpu + extra, demand.memory) if extra else demand

    def breakpoints(self, start: float, end: float) -> list[float]:
        """Seconds strictly between ``start`` and ``end`` where the demand jumps or changes slope."""
        edges = sorted(
            {s.start for s in self.segments} | {a for a, _, _ in self.spikes} | {b for _, b, _ in self.spikes}
        )
        edges = [e for e in edges if e < self.length] + [self.length]
        found: list[float] = []
        first_cycle = max(0, int(start // self.length)) if self.repeat else 0
        last_cycle = int(end // self.length) if self.repeat else 0
        for cycle in range(first_cycle, min(last_cycle, first_cycle + MAX_CYCLES) + 1):
            found.extend(cycle * self.length + e for e in edges if start < cycle * self.length + e < end)
        return found


MAX_CYCLES = 100  # breakpoints of at most this many cycles per interval (a longer gap is approximated)


def spread(
    total: float, caps: Sequence[float], weights: Sequence[float] | None = None
) -> tuple[list[float], float]:
    """Share ``total`` over slots in proportion to ``weights``, none above its cap: (shares, unserved).

    Water-filling: every open slot gets the same amount per unit of weight until one reaches its cap;
    the rest is shared again among the others. Scaling out (more slots) lowers each share.
    """
    n = len(caps)
    w = list(weights) if weights is not None else [1.0] * n
    shares = [0.0] * n
    remaining = max(0.0, total)
    open_ = [i for i in range(n) if caps[i] > _EPSILON and w[i] > 0]
    while remaining > _EPSILON and open_:
        weight = sum(w[i] for i in open_)
        step = min(remaining / weight, min((caps[i] - shares[i]) / w[i] for i in open_))
        for i in open_:
            shares[i] = min(caps[i], shares[i] + step * w[i])
        remaining -= step * weight
        open_ = [i for i in open_ if caps[i] - shares[i] > _EPSILON]
    return shares, (remaining if remaining > _EPSILON else 0.0)


def weight(seed: int, uid: str, seconds: float, jitter: float) -> float:
    """A pod's share weight in one 10-second bucket: 1 +- ``jitter``, the same for the same inputs."""
    if jitter <= 0:
        return 1.0
    bucket = int(seconds // JITTER_BUCKET_SECONDS)
    digest = hashlib.blake2b(f"{seed}/{uid}/{bucket}".encode(), digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2**64
    return 1.0 + jitter * (2 * unit - 1)
