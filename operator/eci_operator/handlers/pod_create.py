"""Record a pod's ContainerGroup: resolve against the node's profile, start it, then create the record.

The record is everything decided at creation (``domain.record``) plus the runtime's first state, in one
create (``handlers.group_writes``); a creation refused for bad input is recorded too (its own shape, status
ScheduleFailed, a ProviderFailed Event), so the pod shows why and nothing is decided twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from eci_operator.domain.bodies import labels_of, meta_of, spec_of, uid_of
from eci_operator.domain.errors import DomainError
from eci_operator.domain.imagecache import cache_view, parse_cache
from eci_operator.domain.imagecache_auto import automatic_cache, may_create
from eci_operator.domain.imagecache_match import CacheView
from eci_operator.domain.pods import reserved_port_users
from eci_operator.domain.record import group_record, refused_record
from eci_operator.handlers.announce import Announcer, input_hash
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.group_writes import GroupWriter
from eci_operator.handlers.pod_sync import request_of
from eci_operator.handlers.store import Body, Key
from eci_operator.models import keys
from eci_operator.models.containergroup import ContainerGroup, ContainerGroupPhase, ContainerGroupStatus
from eci_operator.models.imagecache import ImageCache
from eci_operator.models.profile import ECIProfile
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import Runtime

log = structlog.get_logger("eci_operator.pods")


class GroupCreator:
    def __init__(
        self, writer: GroupWriter, runtime: Runtime, caches: Caches, announcer: Announcer, clock: Clock
    ) -> None:
        self.writer = writer
        self.runtime = runtime
        self.caches = caches
        self.announcer = announcer
        self.clock = clock
        self._parsed: dict[str, tuple[str, ImageCache | None]] = {}
        self.want_cache: Callable[[Body], None] | None = None  # ImageCacheController.want: automatic caches

    async def create(self, key: Key, pod: Body, node: Body) -> tuple[Body | None, bool]:
        """Create the pod's ContainerGroup (or take the one that exists): (body, created now with a
        runnable spec?); the body is None when the group is not ours yet."""
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
        if failure is not None:
            refused = ContainerGroupStatus(
                phase=ContainerGroupPhase.SCHEDULE_FAILED,
                reason=reason,
                message=failure,
                finished_at=self.clock.now(),
            )
            body["status"] = refused.to_dict()
        created, fresh = await self._record(key, record, body)
        if (created.get("spec") or {}).get("podUid") != uid_of(pod):
            raise RuntimeError(f"ContainerGroup {namespace}/{name} of an earlier pod is still being deleted")
        if failure is None:
            self._warn_reserved_ports(pod)
            self._automatic_cache(pod, record, profile)
            return created, fresh
        bound.warning("pod.rejected", reason=reason, error=failure)
        if fresh:
            self.announcer.post(pod, "ProviderFailed", failure, warning=True)
        return self.caches.groups.get(key), False

    async def _record(self, key: Key, record: ContainerGroup, body: dict[str, Any]) -> tuple[Body, bool]:
        """Start the instance (in memory), then create its record carrying the runtime's first state.

        The pod shows nothing of it until the create has answered, so a restarted or newly elected
        operator always finds the IP it must not hand out again. When the create does not make our
        record (an existing one, a refusal, an error), what the runtime reserved for it is released.
        """
        spec = record.resolved
        if spec is None:
            created, fresh = await self.writer.create(key, body)
            ours = spec_of(created).get("podUid") == body["spec"]["podUid"]
            if not fresh and ours and not created.get("status"):  # an older operator's, without status
                status = ContainerGroupStatus.model_validate(body["status"])
                await self.writer.write_status(key, created, status)
                return self.caches.groups.get(key) or created, True
            return created, fresh
        known = self.runtime.get(key) is not None  # a group whose record was deleted by hand: keep it
        status = await self.runtime.create(request_of(key, spec, self.caches))
        if status.phase is not None:
            body["status"] = status.to_dict()
        try:
            created, fresh = await self.writer.create(key, body)
        except BaseException:
            if not known:
                await self.runtime.delete(key)
            raise
        if not fresh and not known:
            await self.runtime.delete(key)  # someone recorded it first: the sync adopts that record
        return created, fresh

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
