"""Builds ASK's ImageCaches: Creating → Ready (or Failed) on the image-pull model's timeline.

Each ImageCache is one key of its own small work queue. A reconcile works out the whole status the cache
should show now (``domain.imagecache.CacheBuild``), writes it only when it differs from the recorded one,
and arms one timer for the next change (an image pulled, Ready). The build starts when the operator first
sees the cache (or its spec changes: a new generation starts a new build) and is resumed from the recorded
``startTime`` after a restart. A pull secret that does not exist (by the Secret names the operator
watches) fails the cache, with a Warning Event naming it. The cache's pull model is the one of the profile
owning its vSwitch (README, "ImageCache"). The caches ECI creates by itself for pods no cache matches
(``domain.imagecache_auto``) are created here too, off the pods' path (``want``), and removed once expired.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

import structlog
from pydantic import ValidationError

from eci_operator.domain.bodies import meta_of, uid_of
from eci_operator.domain.imagecache import CacheBuild
from eci_operator.domain.imagecache_auto import is_automatic
from eci_operator.domain.pulls import model_for
from eci_operator.handlers.profiles import ProfileCache
from eci_operator.handlers.store import Body, Store
from eci_operator.handlers.workqueue import WorkQueue
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError, Conflict, NotFound
from eci_operator.kube.events import EventPoster, EventSpec
from eci_operator.models import keys
from eci_operator.models.imagecache import (
    IMAGECACHE_API_VERSION,
    ImageCache,
    ImageCachePhase,
    ImageCacheStatus,
)
from eci_operator.runtime.clock import Clock, Timer

log = structlog.get_logger("eci_operator.imagecache")


class ImageCacheController:
    def __init__(
        self,
        client: KubeClient,
        profiles: ProfileCache,
        store: Store,
        events: EventPoster,
        clock: Clock,
        *,
        secret_exists: Callable[[str, str], bool],
    ) -> None:
        self.client, self.profiles, self.events, self.clock = client, profiles, events, clock
        self.secret_exists = secret_exists  # (namespace, name): from the Secret names the operator watches
        self.store = store  # Caches.imagecaches: pods are matched against it
        self.queue: WorkQueue[str] = WorkQueue(self.reconcile, workers=2)
        self._timers: dict[str, Timer] = {}
        self._warned: set[tuple[str, object]] = set()
        self._wanted: dict[str, Body] = {}  # automatic caches to create, by name
        self._refused: set[str] = set()  # automatic caches the API server would not create: not asked again

    def want(self, body: Body) -> None:
        """Create this automatic cache (once: a burst of pods asking for it makes one request)."""
        name = str(meta_of(body).get("name"))
        if name in self._wanted or name in self._refused or self.store.get(("", name)) is not None:
            return
        self._wanted[name] = body
        self.queue.add(name)

    def on_event(self, kind: str, body: Body) -> None:
        name = str(meta_of(body).get("name"))
        if kind == "DELETED":
            self.store.drop(("", name), uid_of(body))
        else:
            self.store.put(("", name), body)
        self.queue.add(name)

    async def reconcile(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        body = self.store.get(("", name))
        if body is None:
            body = await self._create_wanted(name)
        if body is None:
            return
        try:
            cache = ImageCache.model_validate(body)
        except ValidationError as exc:
            self._warn(body, "InvalidImageCache", str(exc).replace("\n", " "))
            return
        recorded = cache.status or ImageCacheStatus()
        now = self.clock.now()
        if await self._expired(name, body, recorded.expire_date_time, now):
            return
        generation = meta_of(body).get("generation")
        fresh = recorded.start_time is None or recorded.observed_generation != generation
        if not fresh and recorded.phase == ImageCachePhase.FAILED:
            return  # a failed cache stays failed, as on ECI: delete and create it again
        build = CacheBuild(
            uid=uid_of(body),
            spec=cache.spec,
            started_at=now if fresh else recorded.start_time or now,
            model=model_for(self.profiles.valid(), _vswitch_of(body)),
            missing_secrets=self._missing_secrets(cache.spec.image_pull_secrets) if fresh else (),
        )
        want = build.status_at(now).model_copy(update={"observed_generation": generation})
        if await self._expired(name, body, want.expire_date_time, now):
            return
        if want.to_dict() != recorded.to_dict():
            await self._write(name, want)
            if want.phase == ImageCachePhase.FAILED:
                self._warn(body, "ImageCacheFailed", f"ImageCache {name}: {want.events[-1].message}")
        due = build.next_change(now)
        if due is not None and want.phase == ImageCachePhase.CREATING:
            self._arm(name, due)

    def _arm(self, name: str, when: dt.datetime) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        self._timers[name] = self.clock.call_at(when, lambda: self.queue.add(name))

    async def _expired(self, name: str, body: Body, expires: dt.datetime | None, now: dt.datetime) -> bool:
        """An automatic cache past its retention is removed (True); before, a timer waits for it."""
        if not is_automatic(body) or expires is None:
            return False
        if expires > now:
            self._arm(name, expires)
            return False
        await self._remove_expired(name, body)
        return True

    async def _create_wanted(self, name: str) -> Body | None:
        wanted = self._wanted.pop(name, None)
        if wanted is None:
            return None
        try:
            created, fresh = await self.client.create_or_get(paths.image_caches(), wanted)
        except ApiError as exc:
            if exc.status in (403, 422):  # not allowed (an older ClusterRole) or refused: once, logged
                log.warning("imagecache.automatic_refused", name=name, status=exc.status, error=str(exc))
                self._refused.add(name)
                return None
            self._wanted.setdefault(name, wanted)  # asked again on the queue's retry
            raise
        self.store.put(("", name), created)
        if fresh:
            annotations = meta_of(wanted).get("annotations") or {}
            log.info(
                "imagecache.automatic",
                name=name,
                images=len(wanted["spec"]["images"]),
                pod=annotations.get(keys.AUTO_IMAGE_CACHE_FOR),
            )
        return created

    async def _remove_expired(self, name: str, body: Body) -> None:
        """An automatic cache past its retention is removed, as ECI cleans up expired caches (RetentionDays,
        "Manage image caches"); a pod that needs those images later gets a new one."""
        precondition = {"preconditions": {"uid": uid_of(body)}}
        with contextlib.suppress(NotFound, Conflict):  # gone already, or replaced by a newer one of that name
            await self.client.delete(f"{paths.image_caches()}/{name}", precondition)
        self.store.drop(("", name), uid_of(body))
        log.info("imagecache.expired", name=name)

    async def _write(self, name: str, status: ImageCacheStatus) -> None:
        try:
            updated = await self.client.merge_patch(
                paths.image_cache_status(name), {"status": status.to_dict()}
            )
        except NotFound:
            return
        self.store.put(("", name), updated)
        log.info("imagecache.status", name=name, phase=status.phase, progress=status.progress)

    def _missing_secrets(self, secrets: list[str]) -> list[str]:
        return [ref for ref in secrets if not self.secret_exists(*ref.split(":", 1))]

    def _warn(self, body: Body, reason: str, message: str) -> None:
        key = (uid_of(body), meta_of(body).get("generation"))
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning("imagecache.refused", name=meta_of(body).get("name"), reason=reason, error=message)
        self.events.post(
            EventSpec(
                namespace="",
                name=str(meta_of(body).get("name")),
                uid=uid_of(body),
                kind="ImageCache",
                reason=reason,
                message=message,
                warning=True,
                api_version=IMAGECACHE_API_VERSION,
                cluster_scoped=True,
            )
        )

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self.queue.stop()


def _vswitch_of(body: Body) -> str | None:
    """The vSwitch the cache's build instance runs in: ``vswitch-ids`` (first) or ``eci-vswitch``."""
    annotations = meta_of(body).get("annotations") or {}
    for key in ("k8s.aliyun.com/vswitch-ids", "k8s.aliyun.com/eci-vswitch"):
        value = str(annotations.get(key) or "").split(",")[0].strip()
        if value:
            return value
    return None
