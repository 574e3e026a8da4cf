"""Where a ContainerGroup is written: created once with its status, later status changes patched in.

The CRD has no status subresource (issue #18): the runtime's first answer is known before the record is
created (``runtime.create`` is in memory), so one create carries spec and status, and the pod's status
follows only once that record, with its IP, is durable. Later changes are merge patches of the object
itself (the spec's CEL immutability rule is evaluated there, off the happy path, which has no update).

A cluster upgraded without re-applying ``crds/`` still has the old CRD, with a status subresource: the
API server drops the status of a create and ignores it in a patch of the object. The writer finds out
once, from the API group's discovery document, and then writes the status through ``/status`` as before
(one write more per pod; README, "Architecture", upgrading).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from eci_operator.domain.bodies import meta_of, uid_of
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.store import Body, Key
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Conflict, Invalid, NotFound
from eci_operator.models.containergroup import ContainerGroupStatus

log = structlog.get_logger("eci_operator.pods")
STATUS_RESOURCE = "containergroups/status"  # listed by discovery only while the CRD has the subresource


class GroupWriter:
    """The ContainerGroup writes of the pod path; knows whether the CRD has a status subresource."""

    def __init__(self, client: KubeClient, caches: Caches) -> None:
        self.client = client
        self.caches = caches
        self._split: bool | None = None  # the CRD has a status subresource (unknown until asked)
        self._asking = asyncio.Lock()

    async def split(self) -> bool:
        """Whether status goes through ``/status`` (an old-shaped CRD): asked once, from discovery."""
        if self._split is None:
            async with self._asking:
                if self._split is None:
                    listed = await self.client.get(paths.group_version())
                    names = {str(r.get("name")) for r in listed.get("resources") or [] if isinstance(r, dict)}
                    self._split = STATUS_RESOURCE in names
                    if self._split:
                        log.warning(
                            "group.status_subresource",
                            crd="containergroups.eci.ask.dev",
                            writes_per_pod=3,
                            fix="re-apply crds/containergroups.yaml (README, Architecture: upgrading)",
                        )
        return self._split

    async def create(self, key: Key, body: dict[str, Any]) -> tuple[Body, bool]:
        """Create the record (with its status, if any), or read the one that exists: (body, created?)."""
        status = body.get("status")
        split = await self.split()
        if split:
            body = {k: v for k, v in body.items() if k != "status"}
        created, fresh = await self.client.create_or_get(paths.container_groups(key[0]), body)
        if fresh and split and status:
            updated = await self._patch(key, created, status, split=True)
            created = updated if updated is not None else created
        self.caches.groups.put(key, created)
        return created, fresh

    async def write_status(self, key: Key, group: Body, status: ContainerGroupStatus) -> None:
        """Write a group's status (with its uid); a group gone or replaced meanwhile is dropped."""
        updated = await self._patch(key, group, status.to_dict(), split=await self.split())
        if updated is not None:
            self.caches.groups.put(key, updated)

    async def _patch(self, key: Key, group: Body, status: Any, *, split: bool) -> Body | None:
        """The merge patch; None when refused. A uid that is not the object's is a 422 (immutable field)."""
        body = {"metadata": {"uid": meta_of(group).get("uid")}, "status": status}
        path = paths.container_group_status(*key) if split else paths.container_group(*key)
        try:
            return await self.client.merge_patch(path, body)
        except (NotFound, Conflict, Invalid) as exc:
            log.warning("group.status_refused", namespace=key[0], name=key[1], error=str(exc))
            self.caches.groups.drop(key, uid_of(group))
            return None
