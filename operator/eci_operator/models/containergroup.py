"""The ``ContainerGroup`` custom resource: the record of one pod's (simulated) ECI instance.

Its spec is decided once, when the pod is bound to a virtual node (``eci_operator.domain`` builds it from
the pod and the ECIProfile), and never changes; its status is filled in progressively by the operator as
the simulated instance goes through ECI's lifecycle. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from eci_operator.models._base import DECIMAL_PATTERN, KubeModel, ObjectMeta
from eci_operator.models.common import Condition
from eci_operator.models.profile import VSwitch

KIND = "ContainerGroup"
PLURAL = "containergroups"

PRICE_LIMIT_PATTERN = r"^[0-9]{1,9}([.][0-9]{1,3})?$"
MAX_CONTAINERS = 20
MIN_PENDING_MINUTES = 10
MAX_PENDING_MINUTES = 1440
DEFAULT_PENDING_MINUTES = 240


class ScheduleStrategy(StrEnum):
    """How ECI walks the vSwitches: in the given order, or in random order."""

    ORDERED = "VSwitchOrdered"
    RANDOM = "VSwitchRandom"


class SpotStrategy(StrEnum):
    """Pay-as-you-go (``NoSpot``) or a spot instance, with or without a price limit."""

    NO_SPOT = "NoSpot"
    AS_PRICE_GO = "SpotAsPriceGo"
    WITH_PRICE_LIMIT = "SpotWithPriceLimit"


class FailStrategy(StrEnum):
    """What ECI does when an instance cannot be created: keep retrying, or fail at once.

    ``fail-over`` is recorded as written and behaves as ``fail-back`` ("the effects of fail-over and
    fail-back are the same", ECI's fault-handling page).
    """

    FAIL_BACK = "fail-back"
    FAIL_OVER = "fail-over"
    FAIL_FAST = "fail-fast"


class Arch(StrEnum):
    """The CPU architecture an instance needs: ARM ECS types run only on ASK's ARM virtual node."""

    AMD64 = "amd64"
    ARM64 = "arm64"


class ContainerGroupPhase(StrEnum):
    """ECI container group states."""

    SCHEDULING = "Scheduling"
    PENDING = "Pending"
    RUNNING = "Running"
    RESTARTING = "Restarting"
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    EXPIRED = "Expired"
    SCHEDULE_FAILED = "ScheduleFailed"
    TERMINATING = "Terminating"


class ContainerState(StrEnum):
    """ECI container states."""

    WAITING = "Waiting"
    RUNNING = "Running"
    TERMINATED = "Terminated"


class CandidateSpec(KubeModel):
    """One instance spec ECI may create, in the order it is tried."""

    spec: str = Field(min_length=1, max_length=64)
    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0, alias="memoryGiB")
    gpus: int | None = Field(default=None, ge=0)


class SpotSpec(KubeModel):
    """Spot settings of the instance (``strategy: NoSpot`` for pay-as-you-go)."""

    strategy: SpotStrategy
    price_limit: str | None = Field(default=None, pattern=PRICE_LIMIT_PATTERN)
    duration_hours: Literal[0, 1] = 1
    fallback: bool = False

    @model_validator(mode="after")
    def _price_limit_iff_limited(self) -> Self:
        if (self.strategy is SpotStrategy.WITH_PRICE_LIMIT) != (self.price_limit is not None):
            raise ValueError("priceLimit is required with SpotWithPriceLimit and forbidden otherwise")
        return self


class ContainerRef(KubeModel):
    """A container of the pod, as ECI records it."""

    name: str = Field(min_length=1)
    image: str = Field(min_length=1)


class RestartPolicy(StrEnum):
    """The pod's restartPolicy: what the kubelet does when a container exits."""

    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


# Simulated start failures (eci.ask.dev/start-failure): the containers never start, with this reason.
StartFailure = Literal["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerError"]


class ImagePull(KubeModel):
    """One image pulled at start-up, and how long its pull takes (from the profile's pull model)."""

    image: str
    seconds: float = Field(ge=0)


class ImageCacheRef(KubeModel):
    """The ImageCache matched at creation (``domain.imagecache_match``) and the pod's images in it."""

    name: str
    image_cache_id: str
    images: list[str] = Field(default_factory=list, max_length=40)


class LifecycleScript(KubeModel):
    """The simulated instance's script, parsed once from the pod's ``eci.ask.dev/`` annotations.

    Recorded in the ContainerGroup at creation: ECI reads annotations only then, so an annotation edited
    later changes nothing, before or after an operator restart (``domain.lifecycle`` parses it).
    """

    startup_delay: float = Field(default=0.0, ge=0)
    startup_jitter: float = Field(default=0.0, ge=0)
    exit_after: float | None = Field(default=None, ge=0)
    exit_code: int = Field(default=0, ge=0, le=255)
    oom_after: float | None = Field(default=None, ge=0)
    start_failure: StartFailure | None = None
    stdout: list[str] = Field(default_factory=list, max_length=200)
    spot_reclaim_after: float | None = Field(default=None, ge=0)
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    pull_seconds: float = Field(default=0.0, ge=0)  # the image pulls (or the cache start) before start-up
    image_pulls: list[ImagePull] = Field(default_factory=list, max_length=40)  # each pull, in order

    def exit_at(self) -> tuple[float, int, str] | None:
        """(seconds after start, exit code, reason) of the first scripted exit, if any."""
        exits = []
        if self.exit_after is not None:
            exits.append((self.exit_after, self.exit_code, "Completed" if self.exit_code == 0 else "Error"))
        if self.oom_after is not None:
            exits.append((self.oom_after, 137, "OOMKilled"))
        return min(exits) if exits else None

    def restarts_after(self, code: int) -> bool:
        return self.restart_policy == RestartPolicy.ALWAYS or (
            self.restart_policy == RestartPolicy.ON_FAILURE and code != 0
        )


class GroupPlacement(KubeModel):
    """Who the group is for and where the pod is bound: all a refused creation records."""

    pod_name: str = Field(min_length=1)
    pod_uid: str = Field(min_length=1)
    node_name: str = Field(min_length=1)
    profile: str = Field(min_length=1)
    region_id: str | None = Field(default=None, min_length=1)
    zone_id: str = Field(min_length=1)


class RefusedGroupSpec(GroupPlacement):
    """The record of a creation refused for bad input (status ScheduleFailed): no resolved spec."""


class ContainerGroupSpec(GroupPlacement):
    """What was decided for the pod at creation (see ``crds/containergroups.yaml``): the runtime request."""

    vpc_id: str | None = Field(default=None, min_length=1)
    candidates: list[CandidateSpec] = Field(min_length=1, max_length=5)
    instance_spec: str = Field(min_length=1)
    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0, alias="memoryGiB")
    arch: Arch | None = None
    gpus: int | None = Field(default=None, ge=0)
    vswitch_ids: list[str] = Field(alias="vSwitchIds", min_length=1, max_length=10)
    # The vSwitches themselves (zone and CIDR) and the simulation seed, as they were at creation; unset in
    # records written before they were recorded (the runtime then looks the vSwitches up in the profile).
    vswitches: list[VSwitch] = Field(default_factory=list, alias="vSwitches", max_length=10)
    seed: int = 0
    lifecycle: LifecycleScript | None = None
    image_cache: ImageCacheRef | None = None
    schedule_strategy: ScheduleStrategy | None = None
    security_group_ids: list[str] | None = Field(default=None, min_length=1, max_length=5)
    spot: SpotSpec | None = None
    fail_strategy: FailStrategy | None = None
    max_pending_minutes: int | None = Field(default=None, ge=MIN_PENDING_MINUTES, le=MAX_PENDING_MINUTES)
    matched_selectors: list[str] = Field(default_factory=list)
    sources: dict[str, str] = Field(default_factory=dict)
    containers: list[ContainerRef] = Field(default_factory=list, max_length=MAX_CONTAINERS)
    init_containers: list[ContainerRef] = Field(default_factory=list, max_length=MAX_CONTAINERS)

    @model_validator(mode="after")
    def _instance_spec_is_first_candidate(self) -> Self:
        if self.instance_spec != self.candidates[0].spec:
            raise ValueError("instanceSpec must be the first candidate's spec")
        return self


class BilledInterval(KubeModel):
    """A stretch of time in one billed state (``end`` unset while it lasts)."""

    phase: ContainerGroupPhase
    start: datetime
    end: datetime | None = None


class ContainerStatus(KubeModel):
    """The state of one container of the instance."""

    name: str
    init: bool = False
    state: ContainerState | None = None
    reason: str | None = None
    exit_code: int | None = None
    restart_count: int = Field(default=0, ge=0)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ContainerGroupStatus(KubeModel):
    """The observed state of the instance, filled in progressively by the operator."""

    phase: ContainerGroupPhase | None = None
    reason: str | None = None
    message: str | None = None
    instance_id: str | None = None
    instance_spec: str | None = None
    vcpu: float | None = Field(default=None, gt=0)
    memory_gib: float | None = Field(default=None, gt=0, alias="memoryGiB")
    zone_id: str | None = None
    vswitch_id: str | None = Field(default=None, alias="vSwitchId")
    security_group_id: str | None = None
    ip: str | None = None
    scheduled_at: datetime | None = None
    instance_created_at: datetime | None = None
    image_cache_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    price_per_second: str | None = Field(default=None, pattern=DECIMAL_PATTERN)
    billed_intervals: list[BilledInterval] = Field(default_factory=list)
    containers: list[ContainerStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, ge=0)


class ContainerGroup(KubeModel):
    """A whole ContainerGroup object (namespaced, named after its pod)."""

    api_version: Literal["eci.ask.dev/v1alpha1"] = "eci.ask.dev/v1alpha1"
    kind: Literal["ContainerGroup"] = "ContainerGroup"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ContainerGroupSpec | RefusedGroupSpec
    status: ContainerGroupStatus | None = None

    @property
    def resolved(self) -> ContainerGroupSpec | None:
        """The resolved spec, or None for the record of a refused creation."""
        return self.spec if isinstance(self.spec, ContainerGroupSpec) else None
