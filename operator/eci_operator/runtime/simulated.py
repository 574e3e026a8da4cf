"""The simulated ECI runtime: placement over vSwitches, IP addresses, start-up and scripted exits.

Deterministic: the vSwitch order of ``VSwitchRandom`` is drawn from a RNG seeded by the profile's seed and
the pod's uid; time comes from an injected ``Clock``. State changes that happen on their own (a start-up
delay ending, a container exiting) are announced through ``subscribe``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from eci_operator.models.containergroup import (
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
    ContainerStatus,
    ScheduleStrategy,
)
from eci_operator.runtime.clock import Clock, LoopClock, Timer
from eci_operator.runtime.ipam import AddressExhausted, VSwitchPool
from eci_operator.runtime.protocol import GroupRequest, Key

TERMINAL = frozenset(
    {
        ContainerGroupPhase.SUCCEEDED,
        ContainerGroupPhase.FAILED,
        ContainerGroupPhase.EXPIRED,
        ContainerGroupPhase.SCHEDULE_FAILED,
    }
)


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
class _Group:
    request: GroupRequest
    status: ContainerGroupStatus
    pool: VSwitchPool | None = None
    timers: list[Timer] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


class SimulatedRuntime:
    """An in-process ECI: implements ``eci_operator.runtime.protocol.Runtime``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or LoopClock()
        self._groups: dict[Key, _Group] = {}
        self._pools: dict[str, VSwitchPool] = {}
        self._subscribers: list[Callable[[Key], None]] = []

    # ------------------------------------------------------------------------------------------ interface
    def subscribe(self, callback: Callable[[Key], None]) -> None:
        self._subscribers.append(callback)

    def get(self, key: Key) -> ContainerGroupStatus | None:
        group = self._groups.get(key)
        return group.status if group else None

    def list_keys(self) -> list[Key]:
        return list(self._groups)

    async def create(self, request: GroupRequest) -> ContainerGroupStatus:
        existing = self._groups.get(request.key)
        if existing is not None:
            if existing.request.uid == request.uid:
                return existing.status
            await self.delete(request.key)
        now = self.clock.now()
        group = _Group(request, ContainerGroupStatus(phase=ContainerGroupPhase.SCHEDULING))
        self._groups[request.key] = group
        placed = self._place(group, now)
        if placed and request.lifecycle.startup_delay > 0:
            self._after(group, request.lifecycle.startup_delay, self._start)
        elif placed:
            self._start_now(group, now)
        return group.status

    async def adopt(self, request: GroupRequest, recorded: ContainerGroupStatus) -> ContainerGroupStatus:
        existing = self._groups.get(request.key)
        if existing is not None and existing.request.uid == request.uid:
            return existing.status
        group = _Group(request, recorded)
        self._groups[request.key] = group
        if recorded.ip and recorded.vswitch_id and recorded.phase not in TERMINAL:
            pool = self._pool_for(request, recorded.vswitch_id)
            if pool is not None and pool.reserve(recorded.ip):
                group.pool = pool
        phase = recorded.phase
        if phase in (None, ContainerGroupPhase.SCHEDULING):
            # Recorded before placement: place it now, as a fresh creation would.
            del self._groups[request.key]
            return await self.create(request)
        if phase == ContainerGroupPhase.PENDING:
            scheduled = recorded.scheduled_at or self.clock.now()
            remaining = request.lifecycle.startup_delay - (self.clock.now() - scheduled).total_seconds()
            self._after(group, max(0.0, remaining), self._start)
        elif phase in (ContainerGroupPhase.RUNNING, ContainerGroupPhase.RESTARTING):
            self._schedule_exit(group)
        return group.status

    async def delete(self, key: Key) -> ContainerGroupStatus | None:
        group = self._groups.pop(key, None)
        if group is None:
            return None
        group.cancel_timers()
        if group.pool is not None and group.status.ip:
            group.pool.release(group.status.ip)
        now = self.clock.now()
        containers = [
            c
            if c.state == ContainerState.TERMINATED
            else c.model_copy(
                update={
                    "state": ContainerState.TERMINATED,
                    "reason": "Completed" if c.init else "Terminated",
                    "exit_code": 0 if c.init else 137 if c.state == ContainerState.RUNNING else 0,
                    "finished_at": now,
                }
            )
            for c in group.status.containers
        ]
        final_phase = group.status.phase if group.status.phase in TERMINAL else ContainerGroupPhase.SUCCEEDED
        return group.status.model_copy(
            update={
                "phase": final_phase,
                "containers": containers,
                "finished_at": group.status.finished_at or now,
            }
        )

    # ------------------------------------------------------------------------------------------ internals
    def _notify(self, key: Key) -> None:
        for callback in self._subscribers:
            callback(key)

    def _after(self, group: _Group, seconds: float, step: Callable[[Key, str], None]) -> None:
        key, uid = group.request.key, group.request.uid
        when = self.clock.now() + dt.timedelta(seconds=seconds)
        group.timers.append(self.clock.call_at(when, lambda: step(key, uid)))

    def _live(self, key: Key, uid: str) -> _Group | None:
        group = self._groups.get(key)
        return group if group is not None and group.request.uid == uid else None

    def _pool_for(self, request: GroupRequest, vswitch_id: str) -> VSwitchPool | None:
        for vsw in request.vswitches:
            if vsw.id == vswitch_id:
                pool = self._pools.get(vsw.id)
                if pool is None or str(pool.network) != str(VSwitchPool(vsw.id, vsw.cidr).network):
                    pool = self._pools[vsw.id] = VSwitchPool(vsw.id, vsw.cidr)
                return pool
        return None

    def _ordered_vswitches(self, request: GroupRequest) -> list[str]:
        ids = [v.id for v in request.vswitches]
        if request.spec.schedule_strategy == ScheduleStrategy.RANDOM and len(ids) > 1:
            random.Random(f"{request.seed}:{request.uid}").shuffle(ids)
        return ids

    def _place(self, group: _Group, now: dt.datetime) -> bool:
        request = group.request
        errors = []
        for vswitch_id in self._ordered_vswitches(request):
            pool = self._pool_for(request, vswitch_id)
            if pool is None:
                continue
            try:
                ip = pool.allocate()
            except AddressExhausted as exc:
                errors.append(str(exc))
                continue
            assert request.spec.candidates, "only resolved groups reach the runtime"
            spec = request.spec.candidates[0]
            group.pool = pool
            group.status = ContainerGroupStatus(
                phase=ContainerGroupPhase.PENDING,
                reason="Creating",
                message=f"creating instance {spec.spec} in {request.spec.zone_id}",
                instance_id=instance_id(request.uid),
                instance_spec=spec.spec,
                vcpu=spec.vcpu,
                memory_gib=spec.memory_gib,
                zone_id=request.spec.zone_id,
                vswitch_id=vswitch_id,
                security_group_id=request.spec.security_group_ids[0]
                if request.spec.security_group_ids
                else None,
                ip=ip,
                scheduled_at=now,
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
            return True
        group.status = ContainerGroupStatus(
            phase=ContainerGroupPhase.SCHEDULE_FAILED,
            reason="IpExhausted",
            message="; ".join(errors) or "no vSwitch of the pod is in its zone",
            scheduled_at=now,
            finished_at=now,
        )
        return False

    def _start(self, key: Key, uid: str) -> None:
        group = self._live(key, uid)
        if group is None or group.status.phase != ContainerGroupPhase.PENDING:
            return
        self._start_now(group, self.clock.now())
        self._notify(key)

    def _start_now(self, group: _Group, now: dt.datetime) -> None:
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
        group.status = group.status.model_copy(
            update={
                "phase": ContainerGroupPhase.RUNNING,
                "reason": None,
                "message": None,
                "started_at": now,
                "containers": containers,
            }
        )
        self._schedule_exit(group)

    def _schedule_exit(self, group: _Group) -> None:
        exit_after = group.request.lifecycle.exit_after
        if exit_after is None:
            return
        running = [
            c.started_at for c in group.status.containers if not c.init and c.state == ContainerState.RUNNING
        ]
        started = min((s for s in running if s is not None), default=self.clock.now())
        remaining = exit_after - (self.clock.now() - started).total_seconds()
        self._after(group, max(0.0, remaining), self._exit)

    def _exit(self, key: Key, uid: str) -> None:
        group = self._live(key, uid)
        if group is None or group.status.phase not in (
            ContainerGroupPhase.RUNNING,
            ContainerGroupPhase.RESTARTING,
        ):
            return
        now = self.clock.now()
        lifecycle = group.request.lifecycle
        code = lifecycle.exit_code
        restart = lifecycle.restarts_after(code)
        reason = "Completed" if code == 0 else "Error"
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
        update: dict[str, object] = {"containers": containers}
        if restart:
            update["message"] = (
                f"containers exited with code {code} and were restarted ({lifecycle.restart_policy})"
            )
        else:
            failed = code != 0
            update.update(
                phase=ContainerGroupPhase.FAILED if failed else ContainerGroupPhase.SUCCEEDED,
                reason="Error" if failed else "Completed",
                message=f"containers exited with code {code}",
                finished_at=now,
            )
            if group.pool is not None and group.status.ip:
                # A finished instance is released by ECI: its address goes back to the vSwitch.
                group.pool.release(group.status.ip)
                group.pool = None
        group.status = group.status.model_copy(update=update)
        if restart:
            self._schedule_exit(group)
        self._notify(key)
