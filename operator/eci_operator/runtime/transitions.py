"""The lifecycle of a simulated container group as data: one table of transitions the clock drives.

Each row says when a transition applies to a group, when it is due (a time computed from the recorded
status, so a group adopted after a restart resumes exactly where it was), and what it does. One engine
(``machine.GroupMachine.arm``) arms the earliest due transition of a group; ``create`` and ``adopt`` both go
through it, so nothing is scheduled twice or differently after a restart. Like KWOK's stages, but not
user-facing: the product's contract is ECI's annotations (``eci.ask.dev/`` scripts and ``k8s.aliyun.com/``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from eci_operator.domain import phases, pricing
from eci_operator.models import keys
from eci_operator.models.containergroup import (
    DEFAULT_PENDING_MINUTES,
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
)
from eci_operator.runtime.clock import Timer
from eci_operator.runtime.protocol import GroupRequest

P = ContainerGroupPhase
SPOT_NOTICE_SECONDS = 180.0  # ECI's page says ~3 min (ASK's ~5): README, "Our rules"
RETRY_CAP_SECONDS = 30.0


@dataclass
class Group:
    """A group the runtime holds: its request, its state, and what only lives in memory."""

    request: GroupRequest
    status: ContainerGroupStatus
    created: dt.datetime
    stock_key: str | None = None
    holds: bool = False  # holds an instance: stock and an address
    attempts: int = 0
    next_attempt: dt.datetime | None = None  # waiting for stock: when to look again
    throttled: bool = False  # waiting for a creation token (runtime.throttle)
    timer: Timer | None = None
    armed: str | None = None  # the name of the transition the timer will carry out

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.armed = None, None


class Effects(Protocol):
    """What the transitions do (implemented by ``machine.GroupMachine``)."""

    def try_place(self, group: Group) -> None: ...
    def start(self, group: Group) -> None: ...
    def exit(self, group: Group) -> None: ...
    def spot_notice(self, group: Group) -> None: ...
    def reclaim(self, group: Group) -> None: ...
    def pending_timeout(self, group: Group) -> None: ...


@dataclass(frozen=True)
class Transition:
    name: str
    applies: Callable[[Group], bool]
    due_at: Callable[[Group], dt.datetime | None]
    effect: Callable[[Effects, Group], None] = field(compare=False)


def _after(start: dt.datetime | None, seconds: float | None) -> dt.datetime | None:
    if start is None or seconds is None:
        return None
    return start + dt.timedelta(seconds=seconds)


def startup_delay(request: GroupRequest) -> float:
    """Seconds from instance creation to Running: the image pulls, the script's delay, its seeded jitter."""
    lifecycle = request.lifecycle
    jitter = 0.0
    if lifecycle.startup_jitter > 0:
        jitter = random.Random(f"jitter:{request.seed}:{request.uid}").uniform(0, lifecycle.startup_jitter)
    return lifecycle.pull_seconds + lifecycle.startup_delay + jitter


def retry_wait(attempts: int) -> float:
    """Fail-back backoff after ``attempts`` failed placements: 1, 2, 4, ... seconds, capped at 30."""
    return min(RETRY_CAP_SECONDS, 2.0 ** min(max(attempts, 1) - 1, 10))


def run_started(group: Group) -> dt.datetime | None:
    """When the app containers' current run began (they restart together)."""
    starts = [
        c.started_at
        for c in group.status.containers
        if not c.init and c.state == ContainerState.RUNNING and c.started_at is not None
    ]
    return min(starts, default=None)


def is_spot(group: Group) -> bool:
    """Spot was asked for and the instance is priced below pay-as-you-go (derivable after a restart)."""
    spot, s = group.request.spec.spot, group.status
    if (
        spot is None
        or spot.strategy.value == "NoSpot"
        or s.price_per_second is None
        or s.instance_spec is None
    ):
        return False
    on_demand = pricing.on_demand_per_second(s.instance_spec, s.vcpu or 0, s.memory_gib or 0)
    return pricing.price_text(on_demand) != s.price_per_second


def reclaim_at(group: Group) -> dt.datetime | None:
    """When a reclaimable spot instance is taken back: protection period, then the scripted delay."""
    after = group.request.lifecycle.spot_reclaim_after
    spot = group.request.spec.spot
    if after is None or not is_spot(group):
        return None
    protection = 3600.0 * (spot.duration_hours if spot is not None else 0)
    return _after(group.status.started_at, protection + after)


def _waiting_for_capacity(g: Group) -> bool:
    return g.status.phase in (P.SCHEDULING, P.PENDING) and not g.holds and g.next_attempt is not None


def _creating(g: Group) -> bool:
    return g.status.phase == P.PENDING and g.holds and g.request.lifecycle.start_failure is None


def _start_due(g: Group) -> dt.datetime | None:
    return _after(g.status.instance_created_at or g.created, startup_delay(g.request))


def _running(g: Group) -> bool:
    return g.status.phase in phases.RUNNING


def _exit_due(g: Group) -> dt.datetime | None:
    scripted = g.request.lifecycle.exit_at()
    return _after(run_started(g), scripted[0] if scripted else None)


def _notice_pending(g: Group) -> bool:
    return _running(g) and g.status.reason != keys.SPOT_TO_BE_RELEASED


def _notice_due(g: Group) -> dt.datetime | None:
    at = reclaim_at(g)
    return None if at is None else at - dt.timedelta(seconds=SPOT_NOTICE_SECONDS)


def _pending_with_instance(g: Group) -> bool:
    """ECI's Pending phase as eci-max-pending-minute bounds it: an instance, containers not started.

    A group whose init container is running is exempt (ECI's max-pending page); so is a wait for stock.
    """
    running_init = any(c.init and c.state == ContainerState.RUNNING for c in g.status.containers)
    return g.status.phase == P.PENDING and g.holds and not running_init


def _pending_timeout_due(g: Group) -> dt.datetime | None:
    minutes = g.request.spec.max_pending_minutes or DEFAULT_PENDING_MINUTES
    return _after(g.status.instance_created_at, 60.0 * minutes)


def _holds_instance(g: Group) -> bool:
    return g.holds and not phases.is_terminal(g.status.phase)


# Ties go to the earlier row.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("place", _waiting_for_capacity, lambda g: g.next_attempt, lambda m, g: m.try_place(g)),
    Transition("start", _creating, _start_due, lambda m, g: m.start(g)),
    Transition("exit", _running, _exit_due, lambda m, g: m.exit(g)),
    Transition("spot-notice", _notice_pending, _notice_due, lambda m, g: m.spot_notice(g)),
    Transition("reclaim", _holds_instance, reclaim_at, lambda m, g: m.reclaim(g)),
    Transition(
        "pending-timeout", _pending_with_instance, _pending_timeout_due, lambda m, g: m.pending_timeout(g)
    ),
)


def next_due(group: Group) -> tuple[Transition, dt.datetime] | None:
    """The earliest applicable transition of ``group`` and when it is due, if any."""
    best: tuple[Transition, dt.datetime] | None = None
    for transition in TRANSITIONS:
        if not transition.applies(group):
            continue
        due = transition.due_at(group)
        if due is not None and (best is None or due < best[1]):
            best = (transition, due)
    return best
