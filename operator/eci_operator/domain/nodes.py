"""Virtual nodes: which nodes the profiles ask for, who owns a zone, and the Node and Lease bodies.

ASK generates one virtual node per zone of the eci-profile's vSwitches; so do we, plus one ARM node per zone
with ``enableLinuxArm64Node`` (labelled and tainted ``kubernetes.io/arch=arm64``, as ASK's are). Pure
builders: the operator's kube layer sends what is returned here. Capacity is generous on purpose (ASK
claims more than 50,000 pods per cluster and a virtual node never runs out of CPU): see ``CAPACITY``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eci_operator.domain import conditions
from eci_operator.models.keys import (
    LEASE_NAMESPACE,
    PROFILE_LABEL,
    REGION_LABEL,
    TAINT_KEY,
    TAINT_VALUE,
    ZONE_DOWN_TAINT_KEY,
    ZONE_LABEL,
)
from eci_operator.models.profile import ECIProfileSpec

__all__ = ["LEASE_NAMESPACE", "PROFILE_LABEL", "REGION_LABEL", "TAINT_KEY", "ZONE_LABEL"]

NODE_PREFIX = "virtual-kubelet-"
STOCK_CONDITION = "ECIStockExhausted"
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_SECONDS = 10
KUBELET_VERSION = "v1.37.2-eci-operator"

# What one virtual node offers the scheduler. Our rule (ASK publishes no number): room for a 10,000-pod
# scale rehearsal on a single zone with headroom, and more CPU/memory than any cluster will request.
# The numbers are already in canonical quantity form, so what the API server returns compares equal.
CAPACITY = {
    "cpu": "20480",
    "memory": "80Ti",
    "pods": "20480",
    "ephemeral-storage": "100Ti",
    # GPU types run on every profile (ASK's virtual nodes advertise GPUs): pods with nvidia.com/gpu schedule
    "nvidia.com/gpu": "1024",
}


ARCH_LABEL = "kubernetes.io/arch"
AMD64, ARM64 = "amd64", "arm64"
ARM_SUFFIX = "-linux-arm64"  # our name for ASK's ARM virtual node of a zone (ASK's pages name none)
# Real ACK virtual nodes carry these: Services' load balancers leave them out (eci.md section 4)
LB_EXCLUSION_LABELS = {
    "service.beta.kubernetes.io/exclude-node": "true",
    "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
}


def node_name(zone_id: str, arch: str = AMD64) -> str:
    """``virtual-kubelet-<zone>``; the zone's ARM node (``enableLinuxArm64Node``) has ``-linux-arm64``."""
    return f"{NODE_PREFIX}{zone_id}{ARM_SUFFIX if arch == ARM64 else ''}"


def archs_of(spec: ECIProfileSpec) -> list[str]:
    """The architectures of the profile's nodes per zone: amd64, and arm64 with enableLinuxArm64Node."""
    return [AMD64, ARM64] if spec.enable_linux_arm64_node else [AMD64]


def zones_of(spec: ECIProfileSpec) -> list[str]:
    """Distinct zones of the profile's vSwitches, in the order they first appear."""
    return list(dict.fromkeys(v.zone_id for v in spec.vswitches))


def incumbents(nodes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """zone -> profile, as the existing virtual nodes say (who serves a zone now)."""
    current = {}
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if labels.get(ZONE_LABEL) and labels.get(PROFILE_LABEL):
            current[labels[ZONE_LABEL]] = labels[PROFILE_LABEL]
    return current


@dataclass(frozen=True)
class ProfileClaim:
    """A profile as far as zone ownership goes: the earliest profile to claim a zone owns it."""

    name: str
    created: datetime
    zones: tuple[str, ...]


def zone_conflicts(
    claims: Iterable[ProfileClaim], current: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Map each losing profile to {zone: owning profile}.

    A zone belongs to the profile that serves it now (``current``: zone -> profile, read from the nodes),
    else to the older profile, then the one whose name sorts first; creation times have whole-second
    resolution, so incumbency matters when two profiles are created in the same second. A profile that
    loses any zone creates nothing at all: a half-applied profile would be harder to understand than one
    that visibly waits for its conflict to be resolved.
    """
    claims = list(claims)
    names = {c.name for c in claims}
    incumbents = {z: p for z, p in (current or {}).items() if p in names}

    def rank(claim: ProfileClaim) -> tuple[int, datetime, str]:
        holds = any(incumbents.get(z) == claim.name for z in claim.zones)
        return (0 if holds else 1, claim.created, claim.name)

    owner: dict[str, ProfileClaim] = {}
    losers: dict[str, dict[str, str]] = {}
    for claim in sorted(claims, key=rank):
        for zone in claim.zones:
            holder = owner.get(zone)
            if holder is not None:
                losers.setdefault(claim.name, {})[zone] = holder.name
        if claim.name not in losers:
            for zone in claim.zones:
                owner[zone] = claim
    return losers


@dataclass(frozen=True)
class NodeView:
    """What the node builder needs to know about the operator and the zone."""

    profile: str
    zone_id: str
    region_id: str
    address: str
    kubelet_port: int
    tainted: bool
    zone_available: bool = True
    cordoned: bool = False
    stock_exhausted: bool = False
    arch: str = AMD64

    @property
    def name(self) -> str:
        return node_name(self.zone_id, self.arch)


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    """A node condition: the shared builder plus the heartbeat (compared without timestamps)."""
    cond = conditions.condition(kind, status == "True", now, reason=reason, message=message)
    return {**cond, "lastHeartbeatTime": now}


def node_conditions(view: NodeView, now: str) -> list[dict[str, str]]:
    if view.zone_available:
        ready = _condition("Ready", "True", "KubeletReady", "virtual kubelet is ready (simulated ECI)", now)
    else:
        ready = _condition(
            "Ready", "False", "ZoneUnavailable", f"zone {view.zone_id} is unavailable (simulated outage)", now
        )
    return [
        ready,
        _condition(
            "MemoryPressure", "False", "KubeletHasSufficientMemory", "ECI has no memory pressure", now
        ),
        _condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "ECI has no disk pressure", now),
        _condition("PIDPressure", "False", "KubeletHasSufficientPID", "ECI has no PID pressure", now),
        _condition("NetworkUnavailable", "False", "RouteCreated", "ECI networking is ready", now),
        # Not tainted while exhausted (our rule): fail-back pods wait there for stock, as on ASK.
        _condition(
            STOCK_CONDITION,
            "True" if view.stock_exhausted else "False",
            "NoStock" if view.stock_exhausted else "StockAvailable",
            f"no stock left in zone {view.zone_id} for any spec (simulated)"
            if view.stock_exhausted
            else f"zone {view.zone_id} has stock",
            now,
        ),
    ]


def node_taints(view: NodeView) -> list[dict[str, str]]:
    taints = []
    if view.tainted:
        taints.append({"key": TAINT_KEY, "value": TAINT_VALUE, "effect": "NoSchedule"})
    if not view.zone_available:
        taints.append({"key": ZONE_DOWN_TAINT_KEY, "value": view.zone_id, "effect": "NoSchedule"})
    if view.arch == ARM64:  # as on ASK's ARM virtual nodes
        taints.append({"key": ARCH_LABEL, "value": ARM64, "effect": "NoSchedule"})
    return taints


def node_status(view: NodeView, now: str) -> dict[str, Any]:
    name = view.name
    return {
        "capacity": dict(CAPACITY),
        "allocatable": dict(CAPACITY),
        "conditions": node_conditions(view, now),
        "addresses": [
            {"type": "InternalIP", "address": view.address},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": view.kubelet_port}},
        "nodeInfo": {
            "machineID": name,
            "systemUUID": name,
            "bootID": "",
            "kernelVersion": "simulated",
            "osImage": "Alibaba Cloud ECI (simulated by eci-operator)",
            "containerRuntimeVersion": "eci://simulated",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": view.arch,
        },
    }


def node_labels(view: NodeView) -> dict[str, str]:
    name = view.name
    return {
        "type": "virtual-kubelet",
        "kubernetes.io/role": "agent",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        ARCH_LABEL: view.arch,
        **LB_EXCLUSION_LABELS,
        ZONE_LABEL: view.zone_id,
        REGION_LABEL: view.region_id,
        PROFILE_LABEL: view.profile,
    }


def node_body(view: NodeView, now: str) -> dict[str, Any]:
    """The Node to register: everything but its conditions (the API server keeps status on create).

    Like a kubelet, the node reports Ready only after its Lease exists: the conditions come with the first
    status write, which follows the Lease's creation, so nobody sees a Ready node without a Lease.
    """
    status = node_status(view, now)
    status.pop("conditions")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": view.name, "labels": node_labels(view)},
        "spec": {"taints": node_taints(view), "unschedulable": view.cordoned},
        "status": status,
    }


def _condition_key(c: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(c.get("type")), str(c.get("status")), str(c.get("reason")), str(c.get("message")))


def node_needs_status(view: NodeView, node: Mapping[str, Any]) -> bool:
    """True when the node's status differs from what it should be, ignoring heartbeat timestamps."""
    status = node.get("status") or {}
    want = node_status(view, "")
    have_conditions = sorted(_condition_key(c) for c in status.get("conditions") or [])
    if have_conditions != sorted(_condition_key(c) for c in want["conditions"]):
        return True
    return any(status.get(k) != want[k] for k in ("capacity", "allocatable", "addresses", "daemonEndpoints"))


def node_spec_patch(view: NodeView, node: Mapping[str, Any]) -> dict[str, Any] | None:
    """A merge patch for labels/taints/unschedulable when they drifted, else None.

    Taints that others put on the node (the node-lifecycle controller's not-ready/unreachable taints) are
    kept: only ours are added or removed.
    """
    ours = {TAINT_KEY, ZONE_DOWN_TAINT_KEY, ARCH_LABEL}
    spec = node.get("spec") or {}
    have_taints = spec.get("taints") or []
    foreign = [t for t in have_taints if t.get("key") not in ours]
    want_taints = foreign + node_taints(view)
    labels = (node.get("metadata") or {}).get("labels") or {}
    want_labels = node_labels(view)
    patch: dict[str, Any] = {}
    if {k: labels.get(k) for k in want_labels} != want_labels:
        patch["metadata"] = {"labels": want_labels}
    if sorted(map(_taint_key, have_taints)) != sorted(map(_taint_key, want_taints)):
        patch.setdefault("spec", {})["taints"] = want_taints
    if bool(spec.get("unschedulable")) != view.cordoned:
        patch.setdefault("spec", {})["unschedulable"] = view.cordoned
    return patch or None


def _taint_key(t: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(t.get("key")), str(t.get("value", "")), str(t.get("effect")))


def lease_body(node: str, node_uid: str | None, renew_time: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if node_uid:
        # As the kubelet does: the lease goes with its node.
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": renew_time,
        },
    }
