"""The result of resolving a pod: what ECI will create, where, and where each decision came from.

A frozen model with pure builders of the ContainerGroup spec; ``domain.resolve`` computes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel

from eci_operator.domain import annotations as ann
from eci_operator.domain.errors import DomainError
from eci_operator.domain.spec_tables import TableName
from eci_operator.domain.specs import Candidate
from eci_operator.models import (
    Arch,
    CandidateSpec,
    ContainerGroup,
    ContainerGroupSpec,
    ContainerRef,
    FailStrategy,
    ObjectMeta,
    OwnerReference,
    ScheduleStrategy,
    SpotSpec,
    SpotStrategy,
    keys,
)

SOURCE_PROFILE = "profile"
SOURCE_CONTAINERS = "containers"
SOURCE_DEFAULT = "default"

LABEL_PROFILE = keys.PROFILE_LABEL
LABEL_ZONE = keys.ZONE_LABEL


def annotation_source(name: str) -> str:
    """The source string of a value the pod itself set: ``annotation:<name>``."""
    return f"annotation:{name}"


def selector_source(name: str) -> str:
    """The source string of a value a profile selector set: ``selector:<name>``."""
    return f"selector:{name}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SpotSettings(_Frozen):
    """Spot settings: ``NoSpot`` (pay-as-you-go, duration 0) unless the pod asks for a spot instance."""

    strategy: SpotStrategy = SpotStrategy.NO_SPOT
    price_limit: str | None = None
    duration_hours: int = 0
    fallback: bool = False


class Resolution(_Frozen):
    """Everything decided for one pod, with the source of each decision (``sources``, keyed by field)."""

    candidates: tuple[Candidate, ...] = Field(min_length=1)
    instance_spec: str
    vcpu: float
    memory_gib: float = Field(alias="memoryGiB")
    requested_vcpu: float
    requested_memory_gib: float = Field(alias="requestedMemoryGiB")
    spec_table: TableName
    ignored_containers: tuple[str, ...] = ()
    arch: Arch = Arch.AMD64
    gpus: int = 0
    requested_gpus: int = 0
    vswitch_ids: tuple[str, ...] = Field(alias="vSwitchIds")
    vswitch_zones: dict[str, str] = Field(alias="vSwitchZones")
    schedule_strategy: ScheduleStrategy
    security_group_ids: tuple[str, ...]
    spot: SpotSettings
    fail_strategy: FailStrategy
    max_pending_minutes: int
    matched_selectors: tuple[str, ...]
    effect_annotations: dict[str, str]
    effect_labels: dict[str, str]
    sources: dict[str, str]
    region_id: str
    vpc_id: str
    containers: tuple[ContainerRef, ...]
    init_containers: tuple[ContainerRef, ...]

    @computed_field(alias="zones")  # type: ignore[prop-decorator]
    @property
    def zones(self) -> tuple[str, ...]:
        """The zones of the resolved vSwitches, each once, in order."""
        return tuple(dict.fromkeys(self.vswitch_zones[v] for v in self.vswitch_ids))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (camelCase keys), as ``eci-operator resolve -o json`` prints it."""
        return self.model_dump(mode="json", by_alias=True)

    def vswitch_ids_in_zone(self, zone_id: str) -> tuple[str, ...]:
        """The resolved vSwitches in ``zone_id``, in order; a DomainError naming eci-vswitch if none."""
        ids = tuple(v for v in self.vswitch_ids if self.vswitch_zones[v] == zone_id)
        if not ids:
            raise DomainError(
                ann.VSWITCH,
                ",".join(self.vswitch_ids),
                f"none of these vSwitches is in zone {zone_id}",
                f"a vSwitch in zone {zone_id} (resolved zones: {', '.join(self.zones)})",
            )
        return ids

    def container_group_spec(
        self, *, pod_name: str, pod_uid: str, node_name: str, zone_id: str, profile_name: str
    ) -> ContainerGroupSpec:
        """The ContainerGroup spec for this pod on the virtual node of ``zone_id`` (pure builder)."""
        return ContainerGroupSpec(
            pod_name=pod_name,
            pod_uid=pod_uid,
            node_name=node_name,
            profile=profile_name,
            region_id=self.region_id,
            zone_id=zone_id,
            vpc_id=self.vpc_id,
            candidates=[
                CandidateSpec(spec=c.name, vcpu=c.vcpu, memory_gib=c.memory_gib, gpus=c.gpus or None)
                for c in self.candidates
            ],
            instance_spec=self.instance_spec,
            vcpu=self.vcpu,
            memory_gib=self.memory_gib,
            arch=self.arch,
            gpus=self.gpus,
            vswitch_ids=list(self.vswitch_ids_in_zone(zone_id)),
            schedule_strategy=self.schedule_strategy,
            security_group_ids=list(self.security_group_ids),
            spot=SpotSpec(
                strategy=self.spot.strategy,
                price_limit=self.spot.price_limit,
                duration_hours=1 if self.spot.duration_hours else 0,
                fallback=self.spot.fallback,
            ),
            fail_strategy=self.fail_strategy,
            max_pending_minutes=self.max_pending_minutes,
            matched_selectors=list(self.matched_selectors),
            sources=dict(self.sources),
            containers=list(self.containers),
            init_containers=list(self.init_containers),
        )

    def container_group(
        self, *, pod_name: str, pod_uid: str, namespace: str, node_name: str, zone_id: str, profile_name: str
    ) -> ContainerGroup:
        """The whole ContainerGroup object: named after the pod, in its namespace, owned by it."""
        return ContainerGroup(
            metadata=ObjectMeta(
                name=pod_name,
                namespace=namespace,
                labels={LABEL_PROFILE: profile_name, LABEL_ZONE: zone_id},
                owner_references=[
                    OwnerReference(api_version="v1", kind="Pod", name=pod_name, uid=pod_uid, controller=True)
                ],
            ),
            spec=self.container_group_spec(
                pod_name=pod_name,
                pod_uid=pod_uid,
                node_name=node_name,
                zone_id=zone_id,
                profile_name=profile_name,
            ),
        )
