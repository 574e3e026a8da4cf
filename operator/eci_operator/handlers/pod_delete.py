"""Finish what goes away: a deleted pod (as the kubelet does), a group whose pod is gone, and the bill.

A pod with a ``deletionTimestamp``: stop the instance, report the containers terminated, then delete it
with grace 0 and a uid precondition. A group whose pod is gone (an orphan): stop and bill it; the garbage
collector deletes it through its owner reference, and one it left behind is deleted once past the orphan
grace period. A group's final cost is on the profile's bill before its record can go.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import OrderedDict

import structlog

from eci_operator.domain.bill import status_charge
from eci_operator.domain.bodies import meta_of, spec_of, uid_of
from eci_operator.domain.kubetime import parse_time
from eci_operator.domain.podstatus import desired_pod_status, status_patch
from eci_operator.handlers import instruments
from eci_operator.handlers.billing import BillingRecorder, Charge
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.pod_sync import patch_pod_status
from eci_operator.handlers.store import Body, Key
from eci_operator.handlers.zones import ExhaustionWatch
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Conflict, NotFound
from eci_operator.models.containergroup import ContainerGroup, ContainerGroupStatus
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import Runtime

log = structlog.get_logger("eci_operator.pods")
REMEMBERED = 20_000  # uids remembered (billed groups, pods we deleted): bounded memory


class _Recent(OrderedDict[str, dt.datetime]):
    def remember(self, uid: str, when: dt.datetime) -> None:
        self[uid] = when
        while len(self) > REMEMBERED:
            self.popitem(last=False)


class PodFinisher:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        runtime: Runtime,
        billing: BillingRecorder,
        zones: ExhaustionWatch,
        clock: Clock,
        *,
        orphan_grace_seconds: float,
    ) -> None:
        self.client = client
        self.caches = caches
        self.runtime = runtime
        self.billing = billing
        self.zones = zones
        self.clock = clock
        self.orphan_grace = dt.timedelta(seconds=orphan_grace_seconds)
        self.billed = _Recent()  # uids of groups whose cost is on the bill already
        self.deleted_pods = _Recent()  # pod uid -> when we finished it

    def forget_group(self, group: Body) -> None:
        """The group is gone for good: drop what was remembered about it."""
        self.billed.pop(uid_of(group), None)
        self.deleted_pods.pop(str(spec_of(group).get("podUid")), None)

    async def finish_deletion(self, key: Key, pod: Body, group: Body | None) -> None:
        """As the kubelet: stop the instance, report the containers terminated, delete with grace 0 + uid."""
        final = await self.release(key, group)
        now = self.clock.now()
        if final is not None and final.phase is not None:
            desired, _ = desired_pod_status(pod, final, now)
            desired["phase"] = (pod.get("status") or {}).get("phase") or desired["phase"]
            patch = status_patch(pod, desired, {})
            if patch is not None:
                await patch_pod_status(self.client, self.caches, key, pod, patch)
        uid = uid_of(pod)
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": uid},
        }
        try:
            await self.client.delete(paths.pod(*key), options)
            log.info("pod.deleted", pod=key[1], namespace=key[0], uid=uid)
            self.deleted_pods.remember(uid, now)
            if requested := meta_of(pod).get("deletionTimestamp"):
                instruments.DELETION.observe(max(0.0, (now - parse_time(requested)).total_seconds()))
        except (NotFound, Conflict):
            pass
        self.caches.pods.drop(key, uid)  # gone (or replaced): never taken back from a late answer
        # The ContainerGroup goes with its pod: the garbage collector deletes it (owner reference with uid),
        # so no second DELETE here; one a missing collector leaves behind is removed by the resync (orphan).

    async def orphan(self, key: Key, group: Body | None) -> None:
        """A group whose pod is gone (or is another pod now): release it; delete it once past the grace."""
        await self.release(key, group)
        if group is None:
            return
        finished = self.deleted_pods.get(str(spec_of(group).get("podUid")))
        if finished is not None and self.clock.now() - finished < self.orphan_grace:
            return  # we just deleted its pod: the garbage collector is deleting it; the resync checks later
        uid = uid_of(group)
        with contextlib.suppress(NotFound, Conflict):
            await self.client.delete(
                paths.container_group(*key),
                {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}},
            )
        self.caches.groups.drop(key, uid)

    async def release(self, key: Key, group_body: Body | None) -> ContainerGroupStatus | None:
        """Stop the instance and put its final cost on the profile's bill, before its record can go."""
        final = await self.runtime.delete(key)
        if group_body is None:
            return final
        group = ContainerGroup.model_validate(group_body)
        self.zones.check((final.zone_id if final else None) or group.spec.zone_id)
        uid = uid_of(group_body)
        charge = None if uid in self.billed else status_charge(final or group.status, self.clock.now())
        if charge is None:
            return final
        vcpu_seconds, gib_seconds, cost = charge
        await self.billing.record(group.spec.profile, Charge(key[0], vcpu_seconds, gib_seconds, cost))
        self.billed.remember(uid, self.clock.now())
        return final
