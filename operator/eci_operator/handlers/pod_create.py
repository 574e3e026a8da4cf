"""Record a pod's ContainerGroup: resolve against the node's profile, then create the record.

The record is everything decided at creation (``domain.record``); a creation refused for bad input is
recorded too (its own shape, status ScheduleFailed, a ProviderFailed Event), so the pod shows why and
nothing is decided twice.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from eci_operator.domain.bodies import labels_of, meta_of, uid_of
from eci_operator.domain.errors import DomainError
from eci_operator.domain.imagecache import cache_view, parse_cache
from eci_operator.domain.imagecache_auto import automatic_cache, may_create
from eci_operator.domain.imagecache_match import CacheView
from eci_operator.domain.pods import reserved_port_users
from eci_operator.domain.record import group_record, refused_record
from eci_operator.handlers.announce import Announcer, input_hash
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.store import Body, Key
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Conflict, Invalid, NotFound
from eci_operator.models import keys
from eci_operator.models.containergroup import ContainerGroup, ContainerGroupPhase, ContainerGroupStatus
from eci_operator.models.imagecache import ImageCache
from eci_operator.models.profile import ECIProfile
from eci_operator.runtime.clock import Clock

log = structlog.get_logger("eci_operator.pods")


class GroupCreator:
    def __init__(self, client: KubeClient, caches: Caches, announcer: Announcer, clock: Clock) -> None:
        self.client = client
        self.caches = caches
        self.announcer = announcer
        self.clock = clock
        self._parsed: dict[str, tuple[str, ImageCache | None]] = {}
        self.want_cache: Callable[[Body], None] | None = None  # ImageCacheController.want: automatic caches

    async def create(self, key: Key, pod: Body, node: Body) -> Body | None:
        """Create the pod's ContainerGroup (or take the one that exists); None when it is not ours yet."""
        namespace, name = key
        labels = labels_of(node)
        profile_name, zone = labels.get(keys.PROFILE_LABEL, ""), labels.get(keys.ZONE_LABEL, "")
        bound = log.bind(pod=name, namespace=namespace, uid=uid_of(pod))
        profile = self.caches.profiles.get(profile_name)
        failure: str | None = None
        if profile is None:
            failure = f"ECIProfile {profile_name!r} of node {labels.get(keys.HOSTNAME_LABEL)} not found"
            reason = "ProfileNotFound"
        else:
            try:
                record, resolution = group_record(
                    pod,
                    profile_name,
                    profile.spec,
                    zone,
                    namespace_labels=self.caches.namespaces.get(namespace, {}),
                    node_arch=labels.get("kubernetes.io/arch", "amd64"),
                    image_caches=self._image_caches(),
                )
                bound.info(
                    "pod.resolved",
                    spec=resolution.instance_spec,
                    candidates=[c.name for c in resolution.candidates],
                    zone=zone,
                    vswitches=[v.id for v in record.resolved.vswitches] if record.resolved else [],
                    sources=resolution.sources,
                )
            except DomainError as exc:
                failure, reason = str(exc), "InvalidInput"
        if failure is not None:
            record = refused_record(pod, profile_name, zone, labels.get(keys.REGION_LABEL, ""))
        body = record.to_dict()
        body["metadata"].setdefault("annotations", {})[keys.INPUT_HASH] = input_hash(pod)
        created, _ = await self.client.create_or_get(paths.container_groups(namespace), body)
        if (created.get("spec") or {}).get("podUid") != uid_of(pod):
            raise RuntimeError(f"ContainerGroup {namespace}/{name} of an earlier pod is still being deleted")
        self.caches.groups.put(key, created)
        if failure is None:
            self._warn_reserved_ports(pod)
            self._automatic_cache(pod, record, profile)
            return created
        bound.warning("pod.rejected", reason=reason, error=failure)
        status = ContainerGroupStatus(
            phase=ContainerGroupPhase.SCHEDULE_FAILED,
            reason=reason,
            message=failure,
            finished_at=self.clock.now(),
        )
        await write_group_status(self.client, self.caches, key, created, status)
        self.announcer.post(pod, "ProviderFailed", failure, warning=True)
        return self.caches.groups.get(key)

    def _automatic_cache(self, pod: Body, record: ContainerGroup, profile: ECIProfile | None) -> None:
        """No ImageCache matched: ECI makes one (``domain.imagecache_auto``), off this pod's path."""
        if self.want_cache is None or profile is None or record.resolved is None:
            return
        pulls = profile.spec.simulation.image_pulls
        if not may_create(record.resolved, pulls):
            return
        wanted = automatic_cache(pod, record.resolved, pulls, self._image_caches())
        if wanted is not None:
            self.want_cache(wanted)  # this pod pulls its images; later ones match the cache once Ready

    def _image_caches(self) -> list[CacheView]:
        """The ImageCaches as matching sees them now (each parsed once per resourceVersion)."""
        now, views = self.clock.now(), []
        for (_, name), body in self.caches.imagecaches.items.items():
            rv = str(meta_of(body).get("resourceVersion"))
            parsed = self._parsed.get(name)
            if parsed is None or parsed[0] != rv:
                parsed = self._parsed[name] = (rv, parse_cache(body))
            if parsed[1] is not None:
                views.append(cache_view(parsed[1], now))
        for name in set(self._parsed) - {n for _, n in self.caches.imagecaches.items}:
            del self._parsed[name]
        return views

    def _warn_reserved_ports(self, pod: Body) -> None:
        """ECI uses ports 111, 10250 and 10255 itself ("avoid them", its limits page): a Warning only."""
        users = reserved_port_users(pod)
        if users:
            where = ", ".join(f"{path} port {port}" for path, port in users)
            message = f"{where}: ECI uses ports 111, 10250 and 10255 itself (exec, logs, metrics); avoid them"
            self.announcer.post(pod, "ReservedPort", message, warning=True)


async def write_group_status(
    client: KubeClient, caches: Caches, key: Key, group: Body, status: ContainerGroupStatus
) -> None:
    """Write a group's status (with its uid); a group gone or replaced meanwhile is dropped.

    The API server answers a uid that is not the object's with 422 (an immutable field), not 409.
    """
    body = {"metadata": {"uid": meta_of(group).get("uid")}, "status": status.to_dict()}
    try:
        updated = await client.merge_patch(paths.container_group_status(*key), body)
    except (NotFound, Conflict, Invalid) as exc:
        log.warning("group.status_refused", namespace=key[0], name=key[1], error=str(exc))
        caches.groups.drop(key, uid_of(group))
        return
    caches.groups.put(key, updated)
