"""What the operator knows of the cluster: one store per watched kind, fed by the informers.

Pods (indexed by node) and ContainerGroups (indexed by pod uid), both compact (JSON bytes, decoded when
read: ``handlers.store``), virtual nodes, ECIProfiles (valid and
invalid, ``ProfileCache``), namespace labels and ImageCaches. Written only by the informers' callbacks
and by the controllers with the answers of their own writes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from eci_operator.domain.bodies import annotations_of, spec_of
from eci_operator.domain.usage import CPU_USAGE_ANNOTATION, MEMORY_USAGE_ANNOTATION
from eci_operator.handlers.profiles import ProfileCache
from eci_operator.handlers.store import Body, Store

BY_NODE = "node"
BY_POD_UID = "pod-uid"
BY_PROFILE = "profile"  # a group's spec.profile (the metrics read it for every group, per scrape)
BY_FIXED_USAGE = "fixed-usage"  # pods with a fixed-usage annotation: found without decoding every pod


def _node_of(pod: Body) -> str | None:
    return spec_of(pod).get("nodeName") or None


def _fixed_usage_of(pod: Body) -> str | None:
    notes = annotations_of(pod)
    return "yes" if CPU_USAGE_ANNOTATION in notes or MEMORY_USAGE_ANNOTATION in notes else None


def _pod_uid_of(group: Body) -> str | None:
    return spec_of(group).get("podUid") or None


def _profile_of(group: Body) -> str | None:
    return spec_of(group).get("profile") or None


@dataclass
class Caches:
    pods: Store = field(
        default_factory=lambda: Store({BY_NODE: _node_of, BY_FIXED_USAGE: _fixed_usage_of}, compact=True)
    )
    groups: Store = field(
        default_factory=lambda: Store({BY_POD_UID: _pod_uid_of, BY_PROFILE: _profile_of}, compact=True)
    )
    nodes: Store = field(default_factory=Store)
    profiles: ProfileCache = field(default_factory=ProfileCache)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    imagecaches: Store = field(default_factory=Store)  # ASK's ImageCaches (cluster-scoped: key ("", name))
    synced: asyncio.Event = field(default_factory=asyncio.Event)  # everything listed once

    def pods_on(self, node: str) -> int:
        return len(self.pods.by(BY_NODE, node))
