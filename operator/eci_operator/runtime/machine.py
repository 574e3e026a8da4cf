"""The state machine of simulated container groups: placement, start-up, exits, spot, billing intervals.

``SimulatedRuntime`` (simulated.py) is the public face (the ``Runtime`` Protocol); this base class holds the
groups and the transitions the clock drives. Every transition that happens on its own is announced to the
subscribers, so the operator writes it into the ContainerGroup and the pod.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from eci_operator.domain import pricing
from eci_operator.models.containergroup import (
    BilledInterval,
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
    ContainerStatus,
    FailStrategy,
)
from eci_operator.runtime.clock import Clock, LoopClock, Timer
from eci_operator.runtime.logbook import LogBook
from eci_operator.runtime.placement import Capacity, Placement, Refusal
from eci_operator.runtime.protocol import GroupRequest, Key

P = ContainerGroupPhase
TERMINAL = frozenset({P.SUCCEEDED, P.FAILED, P.EXPIRED, P.SCHEDULE_FAILED})
RETRY_CAP_SECONDS = 30.0
SPOT_NOTICE_SECONDS = 180.0


def instance_id(uid: str) -> str:
    """A stable ECI-like instance id for a pod uid (``eci-`` + 16 base-36 characters)."""
    n = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:12], "big")
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(16):
        n, r = divmod(n, 36)
        out.append(chars[r])
    return "eci-" + "".join(out)


@dataclass
class Group:
    request: GroupRequest
    status: ContainerGroupStatus
    created: dt.datetime
    stock_key: str | None = None
    holds: bool = False  # holds an instance: stock and an address
    attempts: int = 0
    timers: list[Timer] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


class GroupMachine:
    """Groups and their transitions; see SimulatedRuntime for the interface."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or LoopClock()
        self.capacity = Capacity()
        self.logbook = LogBook()
        self._groups: dict[Key, Group] = {}
        self._subscribers: list[Callable[[Key], None]] = []

    def _notify(self, key: Key) -> None:
        for callback in self._subscribers:
            callback(key)

    def _after(self, group: Group, seconds: float, step: Callable[[Group], None]) -> None:
        key, uid = group.request.key, group.request.uid

        def fire() -> None:
            live = self._groups.get(key)
            if live is not None and live.request.uid == uid:
                step(live)
                self._notify(key)

        when = self.clock.now() + dt.timedelta(seconds=seconds)
        group.timers.append(self.clock.call_at(when, fire))

    def _log(self, group: Group, text: str, containers: list[str] | None = None) -> None:
        now = self.clock.now()
        for name in containers if containers is not None else [c.name for c in group.request.spec.containers]:
            self.logbook.write(group.request.key, name, text, now)

    def _set_phase(self, group: Group, phase: P, **update: object) -> None:
        """Change phase, closing the open billed interval and opening one for a billed phase."""
        now = self.clock.now()
        intervals = close_intervals(group.status.billed_intervals, now)
        if group.holds and phase.value in pricing.BILLED_PHASES:
            intervals.append(BilledInterval(phase=phase, start=now))
        group.status = group.status.model_copy(
            update={"phase": phase, "billed_intervals": intervals, **update}
        )

    def _release(self, group: Group) -> None:
        if group.holds:
            s = group.status
            self.capacity.release(group.request.spec.zone_id, group.stock_key, s.vswitch_id, s.ip)
            group.holds = False

    def _fail(self, group: Group, phase: P, reason: str, message: str) -> None:
        group.cancel_timers()
        self._release(group)
        now = self.clock.now()
        self._set_phase(group, phase, reason=reason, message=message, finished_at=now)
        for name in [c.name for c in group.request.spec.containers]:
            self.logbook.close(group.request.key, name)

    def _startup_delay(self, request: GroupRequest) -> float:
        lifecycle = request.lifecycle
        jitter = 0.0
        if lifecycle.startup_jitter > 0:
            jitter = random.Random(f"jitter:{request.seed}:{request.uid}").uniform(
                0, lifecycle.startup_jitter
            )
        return lifecycle.startup_delay + jitter

    def _try_place(self, group: Group) -> None:
        request = group.request
        result = self.capacity.place(request)
        if isinstance(result, Refusal):
            self._refused(group, result)
            return
        self._placed(group, result)

    def _refused(self, group: Group, refusal: Refusal) -> None:
        now = self.clock.now()
        spec = group.request.spec
        deadline = group.created + dt.timedelta(minutes=spec.max_pending_minutes or 240)
        retryable = refusal.reason == "NoStock" and spec.fail_strategy != FailStrategy.FAIL_FAST
        if retryable and now < deadline:
            group.attempts += 1
            wait = min(RETRY_CAP_SECONDS, 2.0 ** min(group.attempts - 1, 10))
            wait = min(wait, max(0.0, (deadline - now).total_seconds()))
            message = f"{refusal.message}; retrying (fail-back) until {deadline:%Y-%m-%dT%H:%M:%SZ}"
            group.status = group.status.model_copy(
                update={
                    "phase": P.PENDING,
                    "reason": "NoStock",
                    "message": message,
                    "scheduled_at": group.created,
                }
            )
            self._after(group, wait, self._retry)
            return
        if retryable:
            minutes = spec.max_pending_minutes or 240
            refusal = Refusal("NoStock", f"{refusal.message}; gave up after {minutes} minutes Pending")
        group.status = group.status.model_copy(
            update={
                "phase": P.SCHEDULE_FAILED,
                "reason": refusal.reason,
                "message": refusal.message,
                "scheduled_at": group.created,
                "finished_at": now,
            }
        )

    def _retry(self, group: Group) -> None:
        if group.status.phase in (P.PENDING, P.SCHEDULING) and not group.holds:
            self._try_place(group)

    def _placed(self, group: Group, placed: Placement) -> None:
        request = group.request
        group.holds = True
        group.stock_key = placed.stock_key
        spot = " (spot)" if placed.spot else ""
        group.status = ContainerGroupStatus(
            phase=P.SCHEDULING,
            instance_id=instance_id(request.uid),
            instance_spec=placed.spec,
            vcpu=placed.vcpu,
            memory_gib=placed.memory_gib,
            zone_id=request.spec.zone_id,
            vswitch_id=placed.vswitch_id,
            security_group_id=request.spec.security_group_ids[0] if request.spec.security_group_ids else None,
            ip=placed.ip,
            scheduled_at=group.created,
            price_per_second=pricing.price_text(placed.price_per_second),
            containers=[
                ContainerStatus(
                    name=c.name, init=True, state=ContainerState.WAITING, reason="PodInitializing"
                )
                for c in request.spec.init_containers
            ]
            + [
                ContainerStatus(name=c.name, state=ContainerState.WAITING, reason="ContainerCreating")
                for c in request.spec.containers
            ],
        )
        self._set_phase(group, P.PENDING, reason="Creating", message=f"creating {placed.spec}{spot} instance")
        self._log(
            group,
            f"[eci] instance {group.status.instance_id} ({placed.spec}{spot}) scheduled in "
            f"{request.spec.zone_id}, vSwitch {placed.vswitch_id}, IP {placed.ip}",
        )
        if request.lifecycle.start_failure is not None:
            self._start_failed(group)
            return
        delay = self._startup_delay(request)
        if delay > 0:
            self._after(group, delay, self._start)
        else:
            self._start(group)

    def _start_failed(self, group: Group) -> None:
        reason = group.request.lifecycle.start_failure or "ErrImagePull"
        containers = [
            c if c.init else c.model_copy(update={"reason": reason}) for c in group.status.containers
        ]
        images = ", ".join(c.image for c in group.request.spec.containers)
        group.status = group.status.model_copy(
            update={
                "reason": reason,
                "message": f"containers cannot start: {reason} ({images})",
                "containers": containers,
            }
        )
        self._log(group, f"[eci] failed to start: {reason}")

    def _start(self, group: Group) -> None:
        if group.status.phase != P.PENDING or not group.holds:
            return
        now = self.clock.now()
        containers = [
            c.model_copy(
                update={
                    "state": ContainerState.TERMINATED if c.init else ContainerState.RUNNING,
                    "reason": "Completed" if c.init else None,
                    "exit_code": 0 if c.init else None,
                    "started_at": now,
                    "finished_at": now if c.init else None,
                }
            )
            for c in group.status.containers
        ]
        self._set_phase(group, P.RUNNING, reason=None, message=None, started_at=now, containers=containers)
        for c in group.request.spec.containers:
            self.logbook.write(
                group.request.key, c.name, f"[eci] container {c.name} started (image {c.image})", now
            )
            for line in group.request.lifecycle.stdout:
                self.logbook.write(group.request.key, c.name, line, now)
        self._schedule_running_events(group)

    def _schedule_running_events(self, group: Group) -> None:
        lifecycle = group.request.lifecycle
        running = [
            c.started_at for c in group.status.containers if not c.init and c.state == ContainerState.RUNNING
        ]
        started = min((s for s in running if s is not None), default=self.clock.now())
        now = self.clock.now()
        scripted = lifecycle.exit_at()
        if scripted is not None:
            remaining = scripted[0] - (now - started).total_seconds()
            self._after(group, max(0.0, remaining), self._exit)
        spot = group.request.spec.spot
        is_spot = self._is_spot(group)
        if is_spot and lifecycle.spot_reclaim_after is not None and group.status.started_at is not None:
            protection = 3600.0 * (spot.duration_hours if spot is not None else 0)
            at = (group.status.started_at - now).total_seconds() + protection + lifecycle.spot_reclaim_after
            notice_at = max(0.0, at - SPOT_NOTICE_SECONDS)
            if group.status.reason != "SpotToBeReleased":
                self._after(group, notice_at, self._spot_notice)
            self._after(group, max(0.0, at), self._reclaim)

    @staticmethod
    def _is_spot(group: Group) -> bool:
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

    def _spot_notice(self, group: Group) -> None:
        if group.status.phase not in (P.RUNNING, P.RESTARTING):
            return
        when = self.clock.now() + dt.timedelta(seconds=SPOT_NOTICE_SECONDS)
        group.status = group.status.model_copy(
            update={
                "reason": "SpotToBeReleased",
                "message": f"the spot instance will be released by {when:%H:%M:%SZ}",
            }
        )
        self._log(group, "[eci] SpotToBeReleased: the spot instance will be reclaimed")

    def _reclaim(self, group: Group) -> None:
        if group.status.phase in TERMINAL:
            return
        self._log(group, "[eci] spot instance reclaimed")
        self._fail(group, P.EXPIRED, "SpotReclaimed", "the spot instance was reclaimed by ECI (Expired)")

    def _exit(self, group: Group) -> None:
        if group.status.phase not in (P.RUNNING, P.RESTARTING):
            return
        scripted = group.request.lifecycle.exit_at()
        if scripted is None:
            return
        _, code, reason = scripted
        now = self.clock.now()
        restart = group.request.lifecycle.restarts_after(code)
        containers = []
        for c in group.status.containers:
            if c.init or c.state != ContainerState.RUNNING:
                containers.append(c)
            elif restart:
                containers.append(
                    c.model_copy(
                        update={"restart_count": c.restart_count + 1, "started_at": now, "reason": None}
                    )
                )
            else:
                containers.append(
                    c.model_copy(
                        update={
                            "state": ContainerState.TERMINATED,
                            "reason": reason,
                            "exit_code": code,
                            "finished_at": now,
                        }
                    )
                )
        self._log(group, f"[eci] container exited with code {code} ({reason})")
        if restart:
            message = f"containers exited with code {code} ({reason}) and were restarted"
            group.status = group.status.model_copy(
                update={
                    "containers": containers,
                    "reason": reason if reason == "OOMKilled" else None,
                    "message": message,
                }
            )
            self._log(group, "[eci] container restarted")
            self._schedule_running_events(group)
            return
        self._release(group)
        failed = code != 0
        self._set_phase(
            group,
            P.FAILED if failed else P.SUCCEEDED,
            containers=containers,
            reason=reason if failed else "Completed",
            message=f"containers exited with code {code} ({reason})",
            finished_at=now,
        )
        for name in [c.name for c in group.request.spec.containers]:
            self.logbook.close(group.request.key, name)

    def _replay_logs(self, group: Group) -> None:
        """After a restart the output is gone; say so, with what the record tells."""
        s = group.status
        if s.started_at is not None:
            self._log(
                group,
                f"[eci] instance {s.instance_id} running since {s.started_at:%Y-%m-%dT%H:%M:%SZ} "
                "(output before the operator restarted is not kept)",
            )
        if s.phase in TERMINAL:
            for name in [c.name for c in group.request.spec.containers]:
                self.logbook.close(group.request.key, name)


def close_intervals(intervals: list[BilledInterval], now: dt.datetime) -> list[BilledInterval]:
    return [i if i.end is not None else i.model_copy(update={"end": now}) for i in intervals]
