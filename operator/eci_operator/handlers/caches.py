"""What the operator knows of the cluster: one store per watched kind, fed by the informers.

Pods (indexed by node) and ContainerGroups (indexed by pod uid), both compact (JSON bytes, decoded when
read: ``handlers.store``), virtual nodes, ECIProfiles (valid and
invalid, ``ProfileCache``), namespace labels and ImageCaches. Written only by the informers' callbacks
and by the controllers with the answers of their own writes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from eci_operator.domain.bodies import spec_of
from eci_operator.handlers.profiles import ProfileCache
from eci_operator.handlers.store import Body, Store

BY_NODE = "node"
BY_POD_UID = "pod-uid"


def _node_of(pod: Body) -> str | None:
    return spec_of(pod).get("nodeName") or None


def _pod_uid_of(group: Body) -> str | None:
    return spec_of(group).get("podUid") or None


@dataclass
class Caches:
    pods: Store = field(default_factory=lambda: Store({BY_NODE: _node_of}, compact=True))
    groups: Store = field(default_factory=lambda: Store({BY_POD_UID: _pod_uid_of}, compact=True))
    nodes: Store = field(default_factory=Store)
    profiles: ProfileCache = field(default_factory=ProfileCache)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    imagecaches: Store = field(default_factory=Store)  # ASK's ImageCaches (cluster-scoped: key ("", name))
    synced: asyncio.Event = field(default_factory=asyncio.Event)  # everything listed once

    def pods_on(self, node: str) -> int:
        return len(self.pods.by(BY_NODE, node))
