"""Reconcile one pod on a virtual node: resolve → record (pod_create) → run → reflect (pod_sync), or finish
it (pod_delete). Idempotent: everything it decides can be read back from the ContainerGroup.
"""

from __future__ import annotations

from eci_operator.domain import references
from eci_operator.domain.bodies import is_daemonset_pod, meta_of, spec_of, uid_of
from eci_operator.domain.podstatus import pending_status, status_patch
from eci_operator.handlers.announce import Announcer
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.pod_create import GroupCreator
from eci_operator.handlers.pod_delete import PodFinisher
from eci_operator.handlers.pod_sync import PodSync, patch_pod_status
from eci_operator.handlers.references import ReferenceWatch
from eci_operator.handlers.store import Body, Key
from eci_operator.kube.client import KubeClient
from eci_operator.runtime.clock import Clock

DAEMONSET_MESSAGE = (
    "DaemonSet pods are not supported on ECI virtual nodes; the pod stays Pending "
    "(tolerate the virtual-node taint only in workloads meant for ECI)"
)


class PodController:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        creator: GroupCreator,
        syncer: PodSync,
        finisher: PodFinisher,
        announcer: Announcer,
        clock: Clock,
    ) -> None:
        self.client = client
        self.caches = caches
        self.creator = creator
        self.syncer = syncer
        self.finisher = finisher
        self.announcer = announcer
        self.clock = clock
        self.references: ReferenceWatch | None = None  # set by the operator: Secrets and ConfigMaps known

    async def reconcile(self, key: Key) -> None:
        pod, group = self.caches.pods.get(key), self.caches.groups.get(key)
        if pod is None:
            await self.finisher.orphan(key, group)
            return
        node = self.caches.nodes.get(("", str(spec_of(pod).get("nodeName") or "")))
        if node is None:
            return
        if group is not None and spec_of(group).get("podUid") != uid_of(pod):
            await self.finisher.orphan(key, group)  # left by an earlier pod of the same name
            group = None
        if meta_of(pod).get("deletionTimestamp"):
            await self.finisher.finish_deletion(key, pod, group)
            return
        if is_daemonset_pod(pod):
            await self._hold_daemonset_pod(key, pod)
            return
        fresh = False
        if group is None:
            if self.references is not None and not await self._references_ready(key, pod):
                return
            group, fresh = await self.creator.create(key, pod, node)
            if group is None:
                return
        await self.syncer.sync(key, pod, group, fresh=fresh)

    async def _references_ready(self, key: Key, pod: Body) -> bool:
        """False (and the pod held, Waiting) while a mandatory Secret or ConfigMap is missing."""
        assert self.references is not None
        absent = references.missing(pod, self.references.exists(key[0]))
        mandatory = [ref for ref in absent if not ref.optional]
        if not mandatory:
            for ref in absent:  # optional ones: the pod runs, an Event says what it lacks
                self.announcer.post(pod, ref.reason, f"{ref.not_found} (optional)", warning=True)
            return True
        for ref in mandatory:
            self.references.wait(key, ref.kind, ref.name)
        desired = references.waiting_status(pod, mandatory, self.clock.now())
        patch = status_patch(pod, desired, {})
        if patch is not None:  # the first time only: later reconciles find the status already written
            await patch_pod_status(self.client, self.caches, key, pod, patch)
            for ref in mandatory:
                self.announcer.post(pod, ref.reason, ref.not_found, warning=True)
                if ref.volume is not None:
                    self.announcer.post(pod, "FailedMount", ref.mount_failure, warning=True)
        return False

    async def _hold_daemonset_pod(self, key: Key, pod: Body) -> None:
        desired = pending_status(pod, "DaemonSetNotSupported", DAEMONSET_MESSAGE, self.clock.now())
        patch = status_patch(pod, desired, {})
        if patch is None:
            return
        await patch_pod_status(self.client, self.caches, key, pod, patch)
        self.announcer.post(pod, "DaemonSetNotSupported", DAEMONSET_MESSAGE, warning=True)
