"""How long ECI takes to get images onto an instance: the image-pull model (pure; no I/O, no clock).

An image's pull time is its size over the zone's pull bandwidth; an instance pulls each distinct image once,
one after another (the kubelet's default, serialised pulls). A matched ImageCache replaces the pulls by
one fixed cache start-up. Building an ImageCache pulls its images once plus a fixed overhead (the build
instance, the snapshot). Two calibrations, both documented in the README ("ImageCache"):

- the defaults, at demo scale: a 256 MiB image at 64 MiB/s pulls in 4 s, a cache hit starts in 1 s (4x
  faster), and a new one-image ImageCache is Ready in 45 s + 4 s, within a minute;
- ``ALIBABA_CALIBRATED``: Alibaba's example — a 386 MB image, ~50 s without a cache, ~5 s with one
  (alibabacloud.com/help/en/elastic-container-instance/latest/use-imagecache) — so 368 MiB at 7.4 MiB/s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eci_operator.models.profile import ECIProfile, ImagePulls, ZoneSimulation

DEFAULT_BANDWIDTH_MIB_S = 64.0
DEFAULT_IMAGE_MIB = 256.0
DEFAULT_CACHE_START_SECONDS = 1.0
DEFAULT_CACHE_BUILD_OVERHEAD_SECONDS = 45.0


@dataclass(frozen=True)
class PullModel:
    """Image sizes (MiB, by exact image reference), the pull bandwidth and the cache figures."""

    bandwidth_mib_s: float = DEFAULT_BANDWIDTH_MIB_S
    default_image_mib: float = DEFAULT_IMAGE_MIB
    image_mib: Mapping[str, float] = field(default_factory=dict)
    cache_start_seconds: float = DEFAULT_CACHE_START_SECONDS
    cache_build_overhead_seconds: float = DEFAULT_CACHE_BUILD_OVERHEAD_SECONDS

    def __post_init__(self) -> None:
        if self.bandwidth_mib_s <= 0:
            raise ValueError(f"bandwidth_mib_s must be > 0, got {self.bandwidth_mib_s}")

    def size_mib(self, image: str) -> float:
        """The image's size: from the table when listed, else the default size."""
        return float(self.image_mib.get(image, self.default_image_mib))

    def pull_seconds(self, images: Iterable[str]) -> float:
        """Seconds to pull every distinct image of ``images`` once, one after the other."""
        return sum(self.size_mib(image) for image in dict.fromkeys(images)) / self.bandwidth_mib_s

    def cache_build_seconds(self, images: Iterable[str]) -> float:
        """Seconds from an ImageCache's creation to Ready: the overhead plus pulling its images once."""
        return self.cache_build_overhead_seconds + self.pull_seconds(images)


DEMO = PullModel()
ALIBABA_CALIBRATED = PullModel(
    bandwidth_mib_s=7.36,
    default_image_mib=368.0,  # 386 MB
    cache_start_seconds=5.0,
)
CALIBRATIONS: Mapping[str, PullModel] = {"demo": DEMO, "alibaba": ALIBABA_CALIBRATED}


def pull_model(settings: ImagePulls, zone: ZoneSimulation | None = None) -> PullModel:
    """The pull model of a profile's ``simulation.imagePulls`` (and a zone's bandwidth, when given)."""
    base = CALIBRATIONS[settings.calibration]
    bandwidth = (zone.pull_bandwidth_mi_bps if zone else None) or settings.bandwidth_mi_bps
    return PullModel(
        bandwidth_mib_s=bandwidth or base.bandwidth_mib_s,
        default_image_mib=_given(settings.default_image_size_mi_b, base.default_image_mib),
        image_mib=dict(settings.image_sizes_mi_b),
        cache_start_seconds=_given(settings.cache_start_seconds, base.cache_start_seconds),
        cache_build_overhead_seconds=_given(
            settings.cache_build_overhead_seconds, base.cache_build_overhead_seconds
        ),
    )


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def model_for(profiles: Mapping[str, ECIProfile], vswitch_id: str | None) -> PullModel:
    """The pull model where a vSwitch is: its profile's, with its zone's bandwidth.

    Without a vSwitch (or one no profile has), the first profile by name decides; without profiles, the
    demo defaults.
    """
    for profile in profiles.values():
        zone = next((v.zone_id for v in profile.spec.vswitches if v.id == vswitch_id), None)
        if zone is not None:
            sim = profile.spec.simulation
            return pull_model(sim.image_pulls, next((z for z in sim.zones if z.zone_id == zone), None))
    first = next(iter(profiles.values()), None)
    return pull_model(first.spec.simulation.image_pulls) if first else DEMO
