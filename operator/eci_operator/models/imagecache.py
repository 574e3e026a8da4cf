"""ASK's own ``ImageCache`` (``eci.alibabacloud.com/v1``, cluster-scoped, short name ``ic``).

ASK installs this CRD by default, so manifests written for ASK must apply here unchanged: the fields are
the ones of Alibaba's "Kubernetes ImageCache API" page (fact sheet section 8), spec and status, with that
page's limits (``imageCacheSize`` 20-32768 GB, default 20; ``retentionDays`` 1-65536, empty = never
expires; ``imagePullSecrets`` as ``namespace:secretName``). Up to 20 images per cache, the limit of ECI's
``CreateImageCache`` (ROS ``ALIYUN::ECI::ImageCache``: "Maximum: 20 images").
This layer does no I/O; ``tests/unit/test_models_crds.py`` proves model and CRD agree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from eci_operator.models._base import KubeModel, ObjectMeta

IMAGECACHE_GROUP = "eci.alibabacloud.com"
IMAGECACHE_VERSION = "v1"
IMAGECACHE_API_VERSION = f"{IMAGECACHE_GROUP}/{IMAGECACHE_VERSION}"

MAX_IMAGES = 20
MIN_CACHE_SIZE_GB, MAX_CACHE_SIZE_GB, DEFAULT_CACHE_SIZE_GB = 20, 32768, 20
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 65536
PULL_SECRET_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"
FAILED_CACHE_EXPIRES_HOURS = 24  # "24 hours after the image cache failed to be created"
# Our rule: Alibaba's pages do not say how long an automatically created cache is kept; 7 days is the
# RetentionDays example of CreateImageCache (README, "ImageCache").
AUTO_RETENTION_DAYS = 7


class ImageCachePhase(StrEnum):
    """The phases the emulator moves an ImageCache through (DescribeImageCaches' status names)."""

    CREATING = "Creating"
    READY = "Ready"
    FAILED = "Failed"


class ImageCacheSpec(KubeModel):
    """What to cache: the images, the secrets to pull them with, the cache size and its retention."""

    images: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        min_length=1, max_length=MAX_IMAGES
    )
    image_pull_secrets: list[Annotated[str, Field(max_length=317, pattern=PULL_SECRET_PATTERN)]] = Field(
        default_factory=list, max_length=MAX_IMAGES
    )
    image_cache_size: int = Field(default=DEFAULT_CACHE_SIZE_GB, ge=MIN_CACHE_SIZE_GB, le=MAX_CACHE_SIZE_GB)
    retention_days: int | None = Field(default=None, ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS)


class ImageCacheEvent(KubeModel):
    """One event of the cache's creation, as DescribeImageCaches reports them."""

    name: str
    type: Literal["Normal", "Warning"]
    message: str
    count: int = Field(default=1, ge=1)
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None


class ImageCacheStatus(KubeModel):
    """The cache's phase, creation progress (``"0%"`` to ``"100%"``), id, times and events."""

    phase: ImageCachePhase | None = None
    progress: str | None = Field(default=None, pattern=r"^(100|[0-9]{1,2})%$")
    image_cache_id: str | None = None
    start_time: datetime | None = None
    last_updated_time: datetime | None = None
    events: list[ImageCacheEvent] = Field(default_factory=list, max_length=64)
    expire_date_time: datetime | None = None
    observed_generation: int | None = Field(default=None, ge=0)  # ours: the spec generation built
    # ours: when the cache is (or was) due Ready, from the pull model; kept so a restart resumes the timer
    ready_at: datetime | None = None


class ImageCache(KubeModel):
    """An ``ImageCache`` object as ASK defines it."""

    api_version: Literal["eci.alibabacloud.com/v1"] = "eci.alibabacloud.com/v1"
    kind: Literal["ImageCache"] = "ImageCache"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ImageCacheSpec
    status: ImageCacheStatus | None = None
