"""The engine of simulated container groups and the effects of their transitions.

``transitions.TRANSITIONS`` says what happens when; this module arms each group's next due transition on
the clock (``arm``) and carries transitions out: placement (stock, vSwitches, IPs, price), start-up, exits
and restarts, spot notices and reclaims, with billed intervals opened and closed on phase changes.
``SimulatedRuntime`` (simulated.py) is the public face (the ``Runtime`` Protocol). Every transition that
happens on its own is announced to the subscribers, so the operator writes it into the ContainerGroup and
the pod.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from eci_operator.domain import phases, pricing
from eci_operator.domain.ids import cloud_id
from eci_operator.models import keys
from eci_operator.models.containergroup import (
    DEFAULT_PENDING_MINUTES,
    BilledInterval,
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
    ContainerStatus,
    FailStrategy,
)
from eci_operator.runtime.clock import Clock, LoopClock
from eci_operator.runtime.logbook import LogBook
from eci_operator.runtime.placement import Capacity, Placement, Refusal
from eci_operator.runtime.protocol import Key
from eci_operator.runtime.throttle import THROTTLING, THROTTLING_MESSAGE, CreationThrottle
from eci_operator.runtime.transitions import SPOT_NOTICE_SECONDS, Group, next_due, retry_wait

P = ContainerGroupPhase
TERMINAL = phases.TERMINAL


def instance_id(uid: str) -> str:
    """A stable ECI-like instance id for a pod uid (``eci-`` + 16 base-36 characters)."""
    return cloud_id("eci", uid)


def close_intervals(intervals: list[BilledInterval], now: dt.datetime) -> list[BilledInterval]:
    return [i if i.end is not None else i.model_copy(update={"end": now}) for i in intervals]


class GroupMachine:
    """Groups, the engine that drives them, and the effects of the transitions."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or LoopClock()
        self.capacity = Capacity()
        self.logbook = LogBook()
        self._groups: dict[Key, Group] = {}
        self._subscribers: list[Callable[[Key], None]] = []
        self.throttle = CreationThrottle(self.clock, self._granted)

    def _notify(self, key: Key) -> None:
        for callback in self._subscribers:
            callback(key)

    # ------------------------------------------------------------------------------------------- engine
    def arm(self, group: Group) -> None:
        """Carry out every transition already due, then set one timer for the next one."""
        group.disarm()
        for _ in range(100):  # a script cannot make more than a few transitions due at once
            found = next_due(group)
            if found is None:
                return
            transition, due = found
            if due > self.clock.now():
                break
            transition.effect(self, group)
        else:  # pragma: no cover - a transition that stays due would loop
            raise RuntimeError(f"transition {transition.name} of {group.request.key} stays due")
        key, uid = group.request.key, group.request.uid

        def fire() -> None:
            live = self._groups.get(key)
            if live is not group or live.request.uid != uid:
                return
            group.timer = None
            if (again := next_due(group)) is not None and again[0] == transition:
                transition.effect(self, group)
            self.arm(group)
            self._notify(key)

        group.timer = self.clock.call_at(due, fire)
        group.armed = transition.name

    # --------------------------------------------------------------------------------------- bookkeeping
    def _log(self, group: Group, text: str, containers: list[str] | None = None) -> None:
        now = self.clock.now()
        for name in containers if containers is not None else [c.name for c in group.request.spec.containers]:
            self.logbook.write(group.request.key, name, text, now)

    def _close_logs(self, group: Group) -> None:
        for c in group.request.spec.containers:
            self.logbook.close(group.request.key, c.name)

    def _set_phase(self, group: Group, phase: P, **update: object) -> None:
        """Change phase, closing the open billed interval and opening one for a billed phase."""
        now = self.clock.now()
        intervals = close_intervals(group.status.billed_intervals, now)
        if group.holds and phases.is_billed(phase):
            intervals.append(BilledInterval(phase=phase, start=now))
        group.status = group.status.model_copy(
            update={"phase": phase, "billed_intervals": intervals, **update}
        )

    def _release(self, group: Group) -> None:
        if group.holds:
            s = group.status
            zone_id = s.zone_id or group.request.spec.zone_id
            self.capacity.release(zone_id, group.stock_key, s.vswitch_id, s.ip)
            group.holds = False

    def fail(self, group: Group, phase: P, reason: str, message: str) -> None:
        """End the group: its instance released, running containers killed (137), billing closed."""
        group.disarm()
        group.next_attempt = None
        self._release(group)
        now = self.clock.now()
        containers = [
            c.model_copy(
                update={
                    "state": ContainerState.TERMINATED,
                    "reason": reason,
                    "exit_code": 137,
                    "finished_at": now,
                }
            )
            if c.state == ContainerState.RUNNING
            else c
            for c in group.status.containers
        ]
        self._set_phase(group, phase, reason=reason, message=message, finished_at=now, containers=containers)
        self._close_logs(group)

    # ------------------------------------------------------------------------------------------ placing
    def admit(self, group: Group) -> None:
        """The CreateContainerGroup call: placed now, or Pending (``Throttling``) until a token comes."""
        request = group.request
        if self.throttle.admit(request.spec.profile, request.key, group.created):
            self.try_place(group)
            return
        group.throttled = True
        message = THROTTLING_MESSAGE % self.throttle.describe(request.spec.profile)
        update = {"phase": P.PENDING, "reason": THROTTLING, "message": message, "scheduled_at": group.created}
        group.status = group.status.model_copy(update=update)

    def _granted(self, key: Key) -> None:
        """A waiting group got its token: it is created now (or waits for stock like any other)."""
        group = self._groups.get(key)
        if group is None or not group.throttled:
            return
        group.throttled = False
        self.try_place(group)
        self.arm(group)
        self._notify(key)

    def try_place(self, group: Group) -> None:
        group.next_attempt = None
        if group.holds or group.status.phase not in (P.SCHEDULING, P.PENDING):
            return
        result = self.capacity.place(group.request)
        if isinstance(result, Refusal):
            self._refused(group, result)
        else:
            self._placed(group, result)

    def _refused(self, group: Group, refusal: Refusal) -> None:
        """Fail-back waits (no stock, no free IP) for as long as it takes; the rest fails at once.

        A wait for stock is never timed out by ``eci-max-pending-minute`` (it bounds ECI's Pending phase,
        which needs an instance): ASK keeps such a pod Pending.
        """
        now = self.clock.now()
        strategy = group.request.spec.fail_strategy or FailStrategy.FAIL_BACK
        if refusal.retryable and strategy != FailStrategy.FAIL_FAST:
            group.attempts += 1
            group.next_attempt = now + dt.timedelta(seconds=retry_wait(group.attempts))
            update = {"phase": P.PENDING, "scheduled_at": group.created}
            message = f"{refusal.message}; retrying ({strategy.value})"
            group.status = group.status.model_copy(
                update={**update, "reason": refusal.reason, "message": message}
            )
            return
        group.status = group.status.model_copy(
            update={
                "phase": P.SCHEDULE_FAILED,
                "reason": refusal.reason,
                "message": refusal.message,
                "scheduled_at": group.created,
                "finished_at": now,
            }
        )

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
            zone_id=placed.zone_id,
            vswitch_id=placed.vswitch_id,
            security_group_id=request.spec.security_group_ids[0] if request.spec.security_group_ids else None,
            ip=placed.ip,
            scheduled_at=group.created,
            instance_created_at=self.clock.now(),
            image_cache_id=request.spec.image_cache.image_cache_id if request.spec.image_cache else None,
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
            f"{placed.zone_id}, vSwitch {placed.vswitch_id}, IP {placed.ip}",
        )
        if request.lifecycle.start_failure is not None:
            self._start_failed(group)

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

    # ---------------------------------------------------------------------------------------- running
    def start(self, group: Group) -> None:
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

    def spot_notice(self, group: Group) -> None:
        minutes = f"{SPOT_NOTICE_SECONDS / 60:g}"
        message = keys.SPOT_TO_BE_RELEASED_MESSAGE % minutes
        group.status = group.status.model_copy(
            update={"reason": keys.SPOT_TO_BE_RELEASED, "message": message}
        )
        self._log(group, f"[eci] {keys.SPOT_TO_BE_RELEASED}: {message}")

    def reclaim(self, group: Group) -> None:
        """The spot instance is taken back: Expired, the pod retained with ``BidFailed`` (ASK's page)."""
        self._log(group, "[eci] spot instance reclaimed")
        message = "the spot instance was reclaimed (Expired): the bid failed"
        self.fail(group, P.EXPIRED, keys.BID_FAILED, message)

    def pending_timeout(self, group: Group) -> None:
        """``eci-max-pending-minute`` ran out: the instance fails and billing stops (ECI's page)."""
        minutes = group.request.spec.max_pending_minutes or DEFAULT_PENDING_MINUTES
        detail = f" ({group.status.reason})" if group.status.reason not in (None, "Creating") else ""
        message = (
            f"the instance stayed Pending{detail} longer than eci-max-pending-minute ({minutes} min): "
            "it failed and is no longer billed"
        )
        self._log(group, f"[eci] {message}")
        self.fail(group, P.FAILED, phases.PENDING_TIMEOUT, message)

    def exit(self, group: Group) -> None:
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
        self._close_logs(group)

    def _replay_logs(self, group: Group) -> None:
        """After a restart the output is gone; say so, with what the record tells."""
        s = group.status
        if s.started_at is not None:
            self._log(
                group,
                f"[eci] instance {s.instance_id} running since {s.started_at:%Y-%m-%dT%H:%M:%SZ} "
                "(output before the operator restarted is not kept)",
            )
        if phases.is_terminal(s.phase):
            self._close_logs(group)
