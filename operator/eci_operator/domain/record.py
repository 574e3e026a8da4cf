"""The ContainerGroup a pod gets when it is bound: everything decided at creation, or why it was refused.

The record is the request: the runtime is driven from the recorded spec alone (specs, vSwitches with their
CIDRs, the simulation seed, the parsed lifecycle script), never from the pod's current annotations, so an
annotation edited after creation changes nothing, before or after an operator restart — as on ECI, which
reads annotations only at creation. A refused creation records only who and where (``RefusedGroupSpec``).
Pure builders: the handlers send what is returned here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eci_operator.domain import annotations as ann
from eci_operator.domain.bodies import meta_of, spec_of
from eci_operator.domain.errors import DomainError
from eci_operator.domain.lifecycle import parse_lifecycle
from eci_operator.domain.resolution import Resolution
from eci_operator.domain.resolve import resolve, vswitches_for_pod
from eci_operator.models import (
    ContainerGroup,
    ECIProfileSpec,
    LifecycleScript,
    ObjectMeta,
    OwnerReference,
    RefusedGroupSpec,
    keys,
)


def lifecycle_of(pod: Mapping[str, Any], profile: ECIProfileSpec | None) -> LifecycleScript:
    """The pod's scripted lifecycle with the profile's simulation defaults; DomainError on bad input."""
    sim = profile.simulation if profile else None
    return parse_lifecycle(
        pod,
        default_startup_delay=sim.startup_delay_seconds if sim else 0.0,
        default_startup_jitter=sim.startup_jitter_seconds if sim else 0.0,
        default_spot_reclaim_after=sim.spot_reclaim_after_seconds if sim else None,
    )


def _owner(pod: Mapping[str, Any]) -> OwnerReference:
    meta = meta_of(pod)
    return OwnerReference(
        api_version="v1", kind="Pod", name=str(meta.get("name")), uid=str(meta.get("uid")), controller=True
    )


def _check_arch(resolution: Resolution, node_arch: str, node: str) -> None:
    wanted = resolution.arch.value
    if wanted == node_arch:
        return
    if wanted == "arm64":
        why = f"an ARM ECS type runs only on the zone's ARM virtual node; the pod is bound to {node}"
        allowed = (
            "nodeSelector kubernetes.io/arch: arm64 and a toleration of kubernetes.io/arch=arm64:NoSchedule"
        )
    else:
        why = f"the ARM virtual node {node} runs only ARM ECS types (e.g. ecs.g8y.large)"
        allowed = "an ARM ECS type in k8s.aliyun.com/eci-use-specs, or an x86 virtual node"
    raise DomainError(field=ann.USE_SPECS, value=resolution.instance_spec, allowed=allowed, why=why)


def group_record(
    pod: Mapping[str, Any],
    profile_name: str,
    profile: ECIProfileSpec,
    zone_id: str,
    *,
    namespace_labels: Mapping[str, str],
    node_arch: str = "amd64",
) -> tuple[ContainerGroup, Resolution]:
    """The ContainerGroup of a pod bound to the virtual node of ``zone_id``; DomainError on bad input.

    ``node_arch`` is the node's ``kubernetes.io/arch``: ARM ECS types run only on the ARM virtual node,
    and (our rule) the ARM node runs only them.
    """
    meta = meta_of(pod)
    resolution = resolve(pod, profile, namespace_labels=namespace_labels)
    _check_arch(resolution, node_arch, str(spec_of(pod).get("nodeName")))
    vswitches = vswitches_for_pod(resolution, profile, zone_id)
    group = resolution.container_group(
        pod_name=str(meta.get("name")),
        pod_uid=str(meta.get("uid")),
        namespace=str(meta.get("namespace")),
        node_name=str(spec_of(pod).get("nodeName")),
        zone_id=zone_id,
        profile_name=profile_name,
    )
    spec = group.spec.model_copy(
        update={
            "vswitches": vswitches,
            "seed": profile.simulation.seed,
            "lifecycle": lifecycle_of(pod, profile),
        }
    )
    return group.model_copy(update={"spec": spec}), resolution


def refused_record(pod: Mapping[str, Any], profile_name: str, zone_id: str, region_id: str) -> ContainerGroup:
    """The record of a creation refused for bad input: the pod and where it was bound, no resolved spec."""
    meta = meta_of(pod)
    return ContainerGroup(
        metadata=ObjectMeta(
            name=meta.get("name"),
            namespace=meta.get("namespace"),
            labels={keys.PROFILE_LABEL: profile_name, keys.ZONE_LABEL: zone_id},
            owner_references=[_owner(pod)],
        ),
        spec=RefusedGroupSpec(
            pod_name=str(meta.get("name")),
            pod_uid=str(meta.get("uid")),
            node_name=str(spec_of(pod).get("nodeName")),
            profile=profile_name,
            region_id=region_id or None,
            zone_id=zone_id,
        ),
    )
