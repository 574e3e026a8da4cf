"""The ``ECIProfile`` custom resource: what the real ASK ``kube-system/eci-profile`` ConfigMap says, typed.

One ECIProfile describes one simulated ASK deployment: a region, a VPC, a default security group, the
vSwitches (one virtual node per zone), selectors that add annotations/labels to matching pods, and knobs of
the simulated ECI runtime. The validators here mirror the CEL rules of ``crds/eciprofiles.yaml`` so that a
profile read from a file is judged as the API server would judge it. No I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from eci_operator.models._base import DECIMAL_PATTERN, KubeModel, ObjectMeta
from eci_operator.models.common import Condition, LabelSelector

KIND = "ECIProfile"
PLURAL = "eciprofiles"

REGION_PATTERN = r"^[a-z]+(-[a-z0-9]+)+$"
VPC_PATTERN = r"^vpc-[a-z0-9][a-z0-9-]*$"
VSWITCH_PATTERN = r"^vsw-[a-z0-9][a-z0-9-]*$"
SECURITY_GROUP_PATTERN = r"^sg-[a-z0-9][a-z0-9-]*$"
SELECTOR_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Syntax only; whether a vCPU-memory pair is on the region's spec table, or an ECS type is in the
# catalogue, is checked by eci_operator.domain.
STOCK_KEY_PATTERN = (
    r"^(\*|[0-9]+([.][0-9]+)?-[0-9]+([.][0-9]+)?Gi"
    r"|ecs[.][a-z]+[0-9]+[a-z]*(-[a-z0-9]+)?[.][0-9a-z]+)$"
)
MAX_VSWITCHES = 64
MAX_SELECTORS = 64
MAX_SECURITY_GROUPS = 64
MAX_RATE_LIMIT_BURST, MAX_RATE_LIMIT_PER_SECOND = 100_000, 100_000


def _duplicates(items: list[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


def _distinct_ids(value: list[str], pattern: str, what: str, prefix: str) -> list[str]:
    """Each item an id of ``pattern`` (at most 64 characters), none twice."""
    for item in value:
        if not re.fullmatch(pattern, item) or len(item) > 64:
            raise ValueError(f"{item!r} is not a {what} ({prefix}...)")
    if dupes := _duplicates(value):
        raise ValueError(f"duplicate {what}s: {', '.join(dupes)}")
    return value


class VSwitch(KubeModel):
    """A vSwitch of the profile's VPC: its id, its zone and its IPv4 CIDR block (pod IPs come from it)."""

    id: str = Field(max_length=64, pattern=VSWITCH_PATTERN)
    zone_id: str = Field(max_length=64, pattern=REGION_PATTERN)
    cidr: str = Field(max_length=18)

    @field_validator("cidr")
    @classmethod
    def _cidr_is_ipv4_network(cls, value: str) -> str:
        # The /16-/29 mask rule of a real vSwitch is judged by the CRD and by profile admission, not here:
        # a stored profile from before the rule must still load.
        try:
            ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 network in CIDR notation with no host bits set: {exc}") from None
        return value


class SelectorEffect(KubeModel):
    """What a selector adds to a matching pod (never overwriting what the pod already has)."""

    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class Selector(KubeModel):
    """A named rule: pods matching both selectors (each optional) get the effect's annotations and labels."""

    name: str = Field(min_length=1, max_length=63, pattern=SELECTOR_NAME_PATTERN)
    namespace_selector: LabelSelector | None = None
    object_selector: LabelSelector | None = None
    effect: SelectorEffect


class ZoneSimulation(KubeModel):
    """The simulated ECI capacity of one zone: whether it is up, and stock per spec (absent = unlimited)."""

    zone_id: str = Field(max_length=64, pattern=REGION_PATTERN)
    available: bool = True
    stock: dict[str, int] = Field(default_factory=dict)
    pull_bandwidth_mi_bps: float | None = Field(default=None, gt=0, alias="pullBandwidthMiBps")

    @field_validator("stock")
    @classmethod
    def _stock_is_sane(cls, value: dict[str, int]) -> dict[str, int]:
        for key, count in value.items():
            if not re.fullmatch(STOCK_KEY_PATTERN, key):
                raise ValueError(
                    f"stock key {key!r} is not a spec name like '2-4Gi' or 'ecs.g7.xlarge', or '*'"
                )
            if count < 0:
                raise ValueError(f"stock of {key!r} must be >= 0, got {count}")
        return value


class ImagePulls(KubeModel):
    """The image-pull model (``domain.pulls``): sizes, bandwidth, ImageCache figures.

    ``calibration`` picks the base figures (``demo``: seconds; ``alibaba``: Alibaba's 386 MB / ~50 s /
    ~5 s example); each field set here overrides its base figure.
    """

    enabled: bool = True
    calibration: Literal["demo", "alibaba"] = "demo"
    bandwidth_mi_bps: float | None = Field(default=None, gt=0, alias="bandwidthMiBps")
    default_image_size_mi_b: float | None = Field(default=None, ge=0, alias="defaultImageSizeMiB")
    image_sizes_mi_b: dict[str, float] = Field(default_factory=dict, alias="imageSizesMiB")
    cache_start_seconds: float | None = Field(default=None, ge=0)
    cache_build_overhead_seconds: float | None = Field(default=None, ge=0)
    # ECI creates an ImageCache for a pod that no cache matches ("If no cache matches, ECI creates one
    # automatically"); with the pull model on only (domain.imagecache_auto)
    auto_create_image_cache: bool = True

    @field_validator("image_sizes_mi_b")
    @classmethod
    def _sizes_are_sane(cls, value: dict[str, float]) -> dict[str, float]:
        for image, size in value.items():
            if not image or size < 0:
                raise ValueError(f"imageSizesMiB[{image!r}] must name an image and be >= 0, got {size}")
        return value


class CreationRateLimit(KubeModel):
    """ECI's rate limit on CreateContainerGroup for the profile's account (``domain.token_bucket``).

    Off unless asked for (local rehearsals are not throttled; ASK accounts' quotas differ). Alibaba's
    documented figures, the suggested values, are the defaults: burst 100, 20 per second.
    """

    enabled: bool = False
    burst: int = Field(default=100, ge=1, le=MAX_RATE_LIMIT_BURST)
    per_second: float = Field(default=20, gt=0, le=MAX_RATE_LIMIT_PER_SECOND)


class Simulation(KubeModel):
    """Knobs of the simulated ECI runtime: RNG seed, start-up delay, per-zone availability and stock."""

    seed: int = Field(default=0, ge=0)
    startup_delay_seconds: float = Field(default=0, ge=0)
    startup_jitter_seconds: float = Field(default=0, ge=0)
    spot_reclaim_after_seconds: float | None = Field(default=None, ge=0)
    zones: list[ZoneSimulation] = Field(default_factory=list, max_length=MAX_VSWITCHES)
    image_pulls: ImagePulls = Field(default_factory=ImagePulls)
    creation_rate_limit: CreationRateLimit = Field(default_factory=CreationRateLimit)


class ECIProfileSpec(KubeModel):
    """The desired state of an ECIProfile (see ``crds/eciprofiles.yaml`` for every field's meaning)."""

    region_id: str = Field(max_length=64, pattern=REGION_PATTERN)
    vpc_id: str = Field(max_length=64, pattern=VPC_PATTERN)
    security_group_id: str = Field(max_length=64, pattern=SECURITY_GROUP_PATTERN)
    allowed_security_group_ids: list[str] = Field(default_factory=list, max_length=MAX_SECURITY_GROUPS)
    # Inline vSwitches, and/or references to VSwitch objects (vSwitchIds), which the operator resolves into
    # inline entries before it judges the profile (domain.configmap.expand_references); at least one in all.
    vswitches: list[VSwitch] = Field(default_factory=list, alias="vSwitches", max_length=MAX_VSWITCHES)
    vswitch_ids: list[str] = Field(default_factory=list, alias="vSwitchIds", max_length=MAX_VSWITCHES)
    selectors: list[Selector] = Field(default_factory=list, max_length=MAX_SELECTORS)
    virtual_node_taint: bool = True
    enable_linux_arm64_node: bool = False
    simulation: Simulation = Field(default_factory=Simulation)

    @field_validator("allowed_security_group_ids")
    @classmethod
    def _security_group_ids_are_ids(cls, value: list[str]) -> list[str]:
        return _distinct_ids(value, SECURITY_GROUP_PATTERN, "security group id", "sg-")

    @field_validator("vswitch_ids")
    @classmethod
    def _vswitch_ids_are_ids(cls, value: list[str]) -> list[str]:
        return _distinct_ids(value, VSWITCH_PATTERN, "vSwitch id", "vsw-")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.vswitches:
            raise ValueError(
                "vSwitches: at least one vSwitch is needed, inline or a VSwitch object named in vSwitchIds"
                + (" (not resolved here: the operator resolves vSwitchIds)" if self.vswitch_ids else "")
            )
        if dupes := _duplicates([v.id for v in self.vswitches]):
            raise ValueError(f"vSwitches: duplicate ids: {', '.join(dupes)}")
        if dupes := _duplicates([s.name for s in self.selectors]):
            raise ValueError(f"selectors: duplicate names: {', '.join(dupes)}")
        if dupes := _duplicates([z.zone_id for z in self.simulation.zones]):
            raise ValueError(f"simulation.zones: duplicate zoneIds: {', '.join(dupes)}")
        for vswitch in self.vswitches:
            if not vswitch.zone_id.startswith(self.region_id + "-"):
                raise ValueError(
                    f"vSwitches: zone {vswitch.zone_id!r} of {vswitch.id} is not in region {self.region_id!r}"
                )
        zones = {v.zone_id for v in self.vswitches}
        for zone in self.simulation.zones:
            if zone.zone_id not in zones:
                raise ValueError(
                    f"simulation.zones: {zone.zone_id!r} has no vSwitch; zones with a vSwitch: "
                    + ", ".join(sorted(zones))
                )
        return self

    @property
    def zone_ids(self) -> list[str]:
        """The zones of the vSwitches, each once, in vSwitch order (one virtual node per zone)."""
        return list(dict.fromkeys(v.zone_id for v in self.vswitches))


class ProfileNode(KubeModel):
    """A virtual node registered for one zone of the profile."""

    name: str
    zone_id: str
    ready: bool = False


class NamespaceBilling(KubeModel):
    """Accumulated pay-as-you-go usage and cost of the ECI pods of one namespace."""

    namespace: str
    pods: int = Field(default=0, ge=0)
    vcpu_seconds: float = Field(default=0, ge=0)
    memory_gib_seconds: float = Field(default=0, ge=0, alias="memoryGiBSeconds")
    cost: str = Field(default="0", pattern=DECIMAL_PATTERN)


class Billing(KubeModel):
    """Billing summary of the profile's pods, per namespace."""

    namespaces: list[NamespaceBilling] = Field(default_factory=list)


class ECIProfileStatus(KubeModel):
    """The observed state of an ECIProfile, written by the operator."""

    nodes: list[ProfileNode] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, ge=0)
    billing: Billing | None = None
    ready_nodes: str | None = None
    pods: int | None = Field(default=None, ge=0)
    cost: str | None = Field(default=None, pattern=DECIMAL_PATTERN)


class ECIProfile(KubeModel):
    """A whole ECIProfile object (cluster-scoped)."""

    api_version: Literal["eci.ask.dev/v1alpha1"] = "eci.ask.dev/v1alpha1"
    kind: Literal["ECIProfile"] = "ECIProfile"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ECIProfileSpec
    status: ECIProfileStatus | None = None
