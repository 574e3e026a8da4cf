"""The ``Load`` custom resource: a demand schedule served by the Ready pods a label selector picks.

A Load stands for the traffic behind a Service: a total CPU and memory demand that changes over time
(steps, ramps, spikes, optionally repeated), spread over the matching pods, each capped at its instance's
size. ``domain.load`` evaluates it; this module only describes the wire form (``crds/loads.yaml``), with
the same bounds the CRD enforces so a Load read from anywhere is checked twice. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from eci_operator.models._base import KubeModel, ObjectMeta
from eci_operator.models.common import LabelSelector

# A Kubernetes quantity without sign (the CRD's pattern; domain.quantity parses it exactly).
QUANTITY_PATTERN = (
    r"^(\+)?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)
MAX_SEGMENTS = 64
MAX_SPIKES = 64
MAX_SECONDS = 7 * 24 * 3600  # one week per segment: longer schedules use repeat


class PerPod(KubeModel):
    """What every matching running pod uses whatever the demand (its base; the idle default if unset)."""

    cpu: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    memory: str | None = Field(default=None, pattern=QUANTITY_PATTERN)


class Segment(KubeModel):
    """One stretch of the schedule: a step (``cpu``) or a ramp (``cpu`` to ``cpuTo``) over its duration."""

    duration_seconds: int = Field(ge=1, le=MAX_SECONDS)
    cpu: str = Field(default="0", pattern=QUANTITY_PATTERN)
    cpu_to: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    memory: str = Field(default="0", pattern=QUANTITY_PATTERN)
    memory_to: str | None = Field(default=None, pattern=QUANTITY_PATTERN)


class Spike(KubeModel):
    """Extra CPU demand on top of the schedule, ``atSeconds`` into each cycle, for ``durationSeconds``."""

    at_seconds: int = Field(ge=0, le=MAX_SECONDS * MAX_SEGMENTS)
    duration_seconds: int = Field(ge=1, le=MAX_SECONDS)
    cpu: str = Field(pattern=QUANTITY_PATTERN)


class LoadSpec(KubeModel):
    """Which pods serve the load (this namespace, ``selector``) and what they are asked for over time."""

    selector: LabelSelector
    per_pod: PerPod = Field(default_factory=PerPod)
    schedule: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)
    spikes: list[Spike] = Field(default_factory=list, max_length=MAX_SPIKES)
    repeat: bool = False
    jitter: float = Field(default=0.0, ge=0.0, le=0.5)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _spikes_inside_the_schedule(self) -> Self:
        if not self.selector.match_labels and not self.selector.match_expressions:
            raise ValueError(
                "selector must name at least one label (matchLabels or matchExpressions): "
                "an empty selector would pick every pod of the namespace"
            )
        total = sum(segment.duration_seconds for segment in self.schedule)
        for index, spike in enumerate(self.spikes):
            if spike.at_seconds >= total:
                raise ValueError(
                    f"spikes[{index}].atSeconds {spike.at_seconds} is not inside the schedule "
                    f"(0 to {total - 1} seconds)"
                )
        return self


class LoadStatus(KubeModel):
    """The load as last served, aggregated over its pods (written when it changes, never per pod)."""

    observed_generation: int | None = Field(default=None, ge=0)
    pods: int = Field(default=0, ge=0)
    ready_pods: int = Field(default=0, ge=0)
    demand_cpu: str | None = Field(default=None, alias="demandCPU")
    served_cpu: str | None = Field(default=None, alias="servedCPU")
    unserved_cpu: str | None = Field(default=None, alias="unservedCPU")
    demand_memory: str | None = None
    served_memory: str | None = None
    unserved_memory: str | None = None
    updated_at: datetime | None = None


class Load(KubeModel):
    """A whole Load object (namespaced: it is served by pods of its own namespace)."""

    api_version: Literal["eci.ask.dev/v1alpha1"] = "eci.ask.dev/v1alpha1"
    kind: Literal["Load"] = "Load"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LoadSpec
    status: LoadStatus | None = None
