"""The simulated ECI runtime: stock, outages, spot, IPs, billing intervals, scripted lifecycles, logs.

Deterministic: vSwitch order (``VSwitchRandom``) and start-up jitter are drawn from the profile's seed and the
pod's uid; spot prices from the seed, zone and spec; time from an injected ``Clock``. Changes that happen on
their own (a delay ending, an exit, a reclaim, a retry finding stock, an outage) are announced through
``subscribe``; the operator then writes them into the ContainerGroup and the pod.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from eci_operator.domain import stock as stock_rules
from eci_operator.models import keys
from eci_operator.models.containergroup import (
    ContainerGroupStatus,
    ContainerState,
)
from eci_operator.models.profile import ECIProfileSpec
from eci_operator.runtime.logbook import LogLine
from eci_operator.runtime.machine import TERMINAL, GroupMachine, P, close_intervals
from eci_operator.runtime.protocol import GroupRequest, Key, ZoneReport
from eci_operator.runtime.throttle import THROTTLING
from eci_operator.runtime.transitions import Group


class SimulatedRuntime(GroupMachine):
    """An in-process ECI: implements ``eci_operator.runtime.protocol.Runtime``."""

    # ------------------------------------------------------------------------------------------ interface
    def subscribe(self, callback: Callable[[Key], None]) -> None:
        self._subscribers.append(callback)

    def get(self, key: Key) -> ContainerGroupStatus | None:
        group = self._groups.get(key)
        return group.status if group else None

    def list_keys(self) -> list[Key]:
        return list(self._groups)

    def configure(self, profile: ECIProfileSpec, *, name: str | None = None) -> None:
        """Take a profile's simulation settings: outages fail its zones' groups; waiting ones retry now.

        With the profile's ``name``, its creation rate limit too (a group waiting for a token is not failed
        by an outage: it has asked for nothing yet, and is placed where it can be once it has a token).
        """
        if name is not None:
            self.throttle.configure(name, profile.simulation.creation_rate_limit)
        for zone in self.capacity.configure(profile):
            for key, group in list(self._groups.items()):
                where = group.status.zone_id if group.holds else group.request.spec.zone_id
                waiting = group.next_attempt is not None or group.throttled
                if where == zone and group.status.phase not in TERMINAL and not waiting:
                    message = keys.STOCK_CLOSE_MESSAGE % f"zone {zone} closed (simulated outage)"
                    self.fail(group, P.FAILED, keys.STOCK_CLOSE, message)
                    self._notify(key)
        for key, group in list(self._groups.items()):
            if group.next_attempt is not None and group.status.phase == P.PENDING and not group.holds:
                self.try_place(group)
                self.arm(group)
                self._notify(key)

    def zone_report(self, zone_id: str) -> ZoneReport:
        zone = self.capacity.zone(zone_id)
        return ZoneReport(
            available=zone.available,
            exhausted=zone.exhausted(),
            remaining=stock_rules.remaining(zone.limits, zone.used),
        )

    async def create(self, request: GroupRequest) -> ContainerGroupStatus:
        existing = self._groups.get(request.key)
        if existing is not None:
            if existing.request.uid == request.uid:
                return existing.status
            await self.delete(request.key)
        now = self.clock.now()
        group = Group(request, ContainerGroupStatus(phase=P.SCHEDULING), created=now)
        self._groups[request.key] = group
        self.admit(group)
        self.arm(group)
        return group.status

    async def adopt(self, request: GroupRequest, recorded: ContainerGroupStatus) -> ContainerGroupStatus:
        existing = self._groups.get(request.key)
        if existing is not None and existing.request.uid == request.uid:
            return existing.status
        if recorded.phase in (None, P.SCHEDULING):
            return await self.create(request)
        created = recorded.scheduled_at or self.clock.now()
        group = Group(request, recorded, created=created)
        self._groups[request.key] = group
        if recorded.phase not in TERMINAL and recorded.instance_id:
            group.holds = True
            zone_id = recorded.zone_id or request.spec.zone_id
            self.capacity.reserve(request, zone_id, recorded.vswitch_id, recorded.ip, recorded.instance_spec)
            zone = self.capacity.zone(zone_id)
            group.stock_key = stock_rules.stock_key(zone.limits, recorded.instance_spec or "")
        elif recorded.phase == P.PENDING and recorded.reason == THROTTLING:
            self.admit(group)  # never got its token: back in line at the time it first asked
        elif recorded.phase == P.PENDING:
            group.next_attempt = self.clock.now()  # was waiting for stock: look again now
        self._replay_logs(group)
        self.arm(group)  # timers resume from the recorded times, through the same table as a creation
        return group.status

    async def delete(self, key: Key) -> ContainerGroupStatus | None:
        group = self._groups.pop(key, None)
        self.throttle.forget(key)
        if group is None:
            return None
        group.disarm()
        now = self.clock.now()
        self._release(group)
        containers = [
            c
            if c.state == ContainerState.TERMINATED
            else c.model_copy(
                update={
                    "state": ContainerState.TERMINATED,
                    "reason": "Completed" if c.init else "Terminated",
                    "exit_code": 0 if c.init or c.state != ContainerState.RUNNING else 137,
                    "finished_at": now,
                }
            )
            for c in group.status.containers
        ]
        final_phase = group.status.phase if group.status.phase in TERMINAL else P.SUCCEEDED
        self.logbook.forget(key)
        return group.status.model_copy(
            update={
                "phase": final_phase,
                "containers": containers,
                "finished_at": group.status.finished_at or now,
                "billed_intervals": close_intervals(group.status.billed_intervals, now),
            }
        )

    def logs(self, key: Key, container: str) -> list[LogLine] | None:
        if key not in self._groups:
            return None
        return self.logbook.lines(key, container)

    def follow_logs(self, key: Key, container: str, start: int) -> AsyncIterator[LogLine]:
        return self.logbook.follow(key, container, start)
