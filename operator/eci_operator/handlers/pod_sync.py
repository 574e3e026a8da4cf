"""Run a recorded group and reflect it into its pod: runtime state → ContainerGroup status → pods/status.

Keyed on state that can be read back: the ContainerGroup says what was decided and what the runtime did;
after a restart the runtime adopts it again from the record alone, so a pod keeps its instance and IP.
Happy path with zero start-up delay: the ContainerGroup was created with the runtime's first state
(``handlers.pod_create``), so the only write here is one ``pods/status`` patch that carries ECI's
write-back annotations too. Nothing is written that did not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from eci_operator.domain import conditions
from eci_operator.domain.bodies import meta_of, uid_of
from eci_operator.domain.kubetime import parse_time
from eci_operator.domain.podstatus import desired_pod_status, status_patch
from eci_operator.handlers import instruments
from eci_operator.handlers.announce import Announcer
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.group_writes import GroupWriter
from eci_operator.handlers.store import Body, Key
from eci_operator.handlers.zones import ExhaustionWatch
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Conflict, Invalid, NotFound
from eci_operator.models.containergroup import (
    ContainerGroup,
    ContainerGroupPhase,
    ContainerGroupSpec,
    ContainerGroupStatus,
)
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import GroupRequest, Runtime

log = structlog.get_logger("eci_operator.pods")


def request_of(key: Key, spec: ContainerGroupSpec, caches: Caches) -> GroupRequest:
    """The runtime request: the record alone. A record written before vSwitches were recorded takes
    them from its profile by id (the upgrade path; README, "Architecture")."""
    if not spec.vswitches:
        profile = caches.profiles.get(spec.profile)
        by_id = {v.id: v for v in profile.spec.vswitches} if profile else {}
        spec = spec.model_copy(update={"vswitches": [by_id[v] for v in spec.vswitch_ids if v in by_id]})
    return GroupRequest(namespace=key[0], name=key[1], spec=spec)


def runnable(group: ContainerGroup) -> ContainerGroupSpec | None:
    """The spec to hand the runtime, or None for a record it has nothing to do with (refused, failed)."""
    recorded = group.status
    if recorded is not None and recorded.phase == ContainerGroupPhase.SCHEDULE_FAILED:
        return None
    return group.resolved


async def patch_pod_status(
    client: KubeClient, caches: Caches, key: Key, pod: Body, patch: dict[str, Any]
) -> None:
    """Write a pod's status (uid precondition); a pod gone or replaced meanwhile is left alone."""
    patch.setdefault("metadata", {})["uid"] = uid_of(pod)
    try:
        updated = await client.merge_patch(paths.pod_status(*key), patch)
    except (NotFound, Conflict, Invalid):
        return  # gone, or replaced by a pod of the same name: its own events will bring it here
    caches.pods.put(key, updated)


class PodSync:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        runtime: Runtime,
        announcer: Announcer,
        zones: ExhaustionWatch,
        clock: Clock,
    ) -> None:
        self.client = client
        self.caches = caches
        self.runtime = runtime
        self.announcer = announcer
        self.zones = zones
        self.clock = clock
        self.writer = GroupWriter(client, caches)  # shared with the creator (``handlers.pod_create``)

    async def adopt_recorded(self) -> int:
        """After a restart, hand every recorded live group back to the runtime before anything new is created.

        Doing it lazily (per pod reconcile) would let a new pod take an address a not-yet-adopted group holds.
        """
        adopted = 0
        for key in self.caches.groups:
            body, pod = self.caches.groups.get(key), self.caches.pods.get(key)
            if body is None or pod is None or self.runtime.get(key) is not None:
                continue
            group = ContainerGroup.model_validate(body)
            spec = runnable(group)
            if (
                group.spec.pod_uid != uid_of(pod)
                or spec is None
                or group.status is None
                or group.status.phase is None
            ):
                continue
            await self.runtime.adopt(request_of(key, spec, self.caches), group.status)
            adopted += 1
        return adopted

    async def _state(self, key: Key, group: ContainerGroup) -> ContainerGroupStatus:
        status = self.runtime.get(key)
        if status is not None:
            return status
        recorded = group.status or ContainerGroupStatus()
        spec = runnable(group)
        if spec is None:
            return recorded
        request = request_of(key, spec, self.caches)
        if recorded.phase is None:
            return await self.runtime.create(request)
        return await self.runtime.adopt(request, recorded)

    async def sync(self, key: Key, pod: Body, group_body: Body, *, fresh: bool = False) -> None:
        """Reflect the group into its pod; ``fresh``: the record was just created with the runtime's first
        state, so what it announces is measured from nothing."""
        group = ContainerGroup.model_validate(group_body)
        recorded = group.status or ContainerGroupStatus()
        status = await self._state(key, group)
        if status.phase is None:
            return
        if status != recorded:
            await self.writer.write_status(key, group_body, status)
        before = ContainerGroupStatus() if fresh else recorded
        if status != before:
            self.announcer.change(pod, before, status)
            if group.resolved is not None:
                self.announcer.images(pod, group.resolved, before, status)
            self.zones.check(status.zone_id or group.spec.zone_id)
            if status.zone_id != group.spec.zone_id:
                self.zones.check(group.spec.zone_id)
        self.announcer.check_edits(key, pod, group_body)
        now = self.clock.now()
        desired, annotations = desired_pod_status(pod, status, now)
        patch = status_patch(pod, desired, annotations)
        if patch is None:
            return
        await patch_pod_status(self.client, self.caches, key, pod, patch)
        if _ready(desired) and not _ready(pod.get("status")):
            bound = _condition_time(pod, "PodScheduled") or meta_of(pod).get("creationTimestamp")
            if bound:
                instruments.PROVISIONING.observe(max(0.0, (now - parse_time(bound)).total_seconds()))


def _ready(status: Mapping[str, Any] | None) -> bool:
    cond = conditions.find((status or {}).get("conditions"), "Ready")
    return bool(cond and cond.get("status") == "True")


def _condition_time(pod: Body, kind: str) -> str | None:
    cond = conditions.find(conditions.of(pod), kind)
    return str(cond["lastTransitionTime"]) if cond and cond.get("lastTransitionTime") else None
