"""An ImageCache's life from its spec and the pull model: phase, progress, events and expiry at any time.

Pure: given the cache's spec, when it was first seen, which of its pull secrets exist and the pull model,
``status_at(now)`` is the whole status ECI would report then, and ``next_change`` says when it next
changes, so the controller writes only on changes and a restarted operator resumes from the recorded
``startTime``. The images are pulled one after another; progress is the share of images pulled. A pull
secret that does not exist fails the cache at once (ECI cannot log in to the registry); a failed cache
expires 24 h later, a Ready one after ``retentionDays`` (never when empty) — both per Alibaba's
"Kubernetes ImageCache API" page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from eci_operator.domain.ids import cloud_id
from eci_operator.domain.pulls import PullModel
from eci_operator.models.imagecache import (
    FAILED_CACHE_EXPIRES_HOURS,
    ImageCacheEvent,
    ImageCachePhase,
    ImageCacheSpec,
    ImageCacheStatus,
)


def cache_id(uid: str) -> str:
    """The ``imc-…`` id ECI would give the cache (stable for its uid)."""
    return cloud_id("imc", uid, length=20)


@dataclass(frozen=True)
class CacheBuild:
    """One ImageCache being built (or built): everything its status follows from."""

    uid: str
    spec: ImageCacheSpec
    started_at: dt.datetime
    model: PullModel
    missing_secrets: Collection[str] = ()

    def _pulled_at(self) -> list[tuple[str, dt.datetime]]:
        """Each image with the time its pull completes (one after another, after the build overhead)."""
        t = self.started_at + dt.timedelta(seconds=self.model.cache_build_overhead_seconds)
        out = []
        for image in dict.fromkeys(self.spec.images):
            t += dt.timedelta(seconds=self.model.pull_seconds([image]))
            out.append((image, t))
        return out

    @property
    def ready_at(self) -> dt.datetime | None:
        return None if self.missing_secrets else self._pulled_at()[-1][1]

    def next_change(self, now: dt.datetime) -> dt.datetime | None:
        """The first time after ``now`` at which ``status_at`` differs (an image pulled, or expiry)."""
        times = [] if self.missing_secrets else [t for _, t in self._pulled_at()]
        expiry = self._expires(self.ready_at)
        if expiry is not None:
            times.append(expiry)
        later = [t for t in times if t > now]
        return min(later) if later else None

    def _expires(self, ready_at: dt.datetime | None) -> dt.datetime | None:
        if ready_at is None:
            return self.started_at + dt.timedelta(hours=FAILED_CACHE_EXPIRES_HOURS)
        if self.spec.retention_days is None:
            return None
        return self.started_at + dt.timedelta(days=self.spec.retention_days)

    def status_at(self, now: dt.datetime) -> ImageCacheStatus:
        base = ImageCacheStatus(
            image_cache_id=cache_id(self.uid),
            start_time=self.started_at,
            expire_date_time=self._expires(self.ready_at),
            ready_at=self.ready_at,
        )
        if self.missing_secrets:
            message = "failed to pull images: image pull secret(s) not found: " + ", ".join(
                sorted(self.missing_secrets)
            )
            event = _event("FailedPullSecret", "Warning", message, self.started_at)
            return base.model_copy(
                update={
                    "phase": ImageCachePhase.FAILED,
                    "progress": "0%",
                    "last_updated_time": self.started_at,
                    "events": [event],
                }
            )
        pulled = [(image, t) for image, t in self._pulled_at() if t <= now]
        total = len(dict.fromkeys(self.spec.images))
        events = [_event(image, "Normal", f"Successfully pulled image {image}", t) for image, t in pulled]
        ready = len(pulled) == total
        if ready:
            events.append(
                _event("ImageCacheCreated", "Normal", "Successfully created image cache", pulled[-1][1])
            )
        return base.model_copy(
            update={
                "phase": ImageCachePhase.READY if ready else ImageCachePhase.CREATING,
                "progress": f"{100 * len(pulled) // total}%",
                "last_updated_time": pulled[-1][1] if pulled else self.started_at,
                "events": events,
            }
        )


def _event(name: str, kind: str, message: str, at: dt.datetime) -> ImageCacheEvent:
    return ImageCacheEvent.model_validate(
        {"name": name, "type": kind, "message": message, "firstTimestamp": at, "lastTimestamp": at}
    )


def usable(status: ImageCacheStatus | None, now: dt.datetime) -> bool:
    """Ready and not expired: the caches a pod may be matched with."""
    if status is None or status.phase != ImageCachePhase.READY:
        return False
    return status.expire_date_time is None or status.expire_date_time > now
