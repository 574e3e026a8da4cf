"""Virtual nodes from ECIProfiles: create, keep in shape, cordon and remove.

All nodes are reconciled together (one queue key), because zone ownership is decided across profiles. A
node whose zone or profile is gone is cordoned and deleted once no pod is bound to it. Like a kubelet, a new
node gets its Lease before its first conditions (Ready among them).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from eci_operator.domain import nodes as rules
from eci_operator.domain.kubetime import stamp
from eci_operator.domain.stock import zone_settings
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.leases import LeaseRenewer
from eci_operator.handlers.profile_status import ProfileStatusWriter
from eci_operator.handlers.store import Body
from eci_operator.handlers.zones import ExhaustionWatch
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import NotFound
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import Runtime

log = structlog.get_logger("eci_operator.nodes")


def port_free(address: str, port: int) -> bool:
    """Nothing on this machine listens on ``port`` yet (a new node must not land on, say, 10257)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1" if address.startswith("127.") else "0.0.0.0", port))
        except OSError:
            return False
    return True


def _port_of(node: Mapping[str, Any] | None) -> int | None:
    port = (
        (((node or {}).get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    ).get("Port")
    return int(port) if port else None


class NodeController:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        runtime: Runtime,
        leases: LeaseRenewer,
        zones: ExhaustionWatch,
        clock: Clock,
        *,
        node_address: str,
        kubelet_port_base: int,
        serve_ports: Callable[[set[int]], Awaitable[None]] | None = None,
        port_available: Callable[[str, int], bool] = port_free,
    ) -> None:
        self.client = client
        self.caches = caches
        self.runtime = runtime
        self.leases = leases
        self.zones = zones
        self.clock = clock
        self.node_address = node_address
        self.kubelet_port_base = kubelet_port_base
        self.serve_ports = serve_ports
        self.port_available = port_available
        self.statuses = ProfileStatusWriter(client, caches, clock)
        self.kubelet_ports: dict[str, int] = {}
        self.served: dict[str, rules.NodeView] = {}  # node name -> what it serves, after the last reconcile

    def _port(self, node: str, used: set[int]) -> int:
        port = self.kubelet_ports.get(node) or _port_of(self.caches.nodes.get(("", node)))
        if port is None:
            port = self.kubelet_port_base
            while port in used or not self.port_available(self.node_address, port):
                port += 1
        used.add(port)
        self.kubelet_ports[node] = port
        return port

    def desired(self) -> tuple[dict[str, rules.NodeView], dict[str, dict[str, str]]]:
        """The nodes the profiles ask for, and the zone conflicts of the profiles that lose."""
        profiles = self.caches.profiles.valid()
        now = self.clock.now()
        claims = [
            rules.ProfileClaim(name, p.metadata.creation_timestamp or now, tuple(rules.zones_of(p.spec)))
            for name, p in profiles.items()
        ]
        conflicts = rules.zone_conflicts(claims, rules.incumbents(self.caches.nodes.items.values()))
        used = {p for n in self.caches.nodes.items.values() if (p := _port_of(n))} | set(
            self.kubelet_ports.values()
        )
        views: dict[str, rules.NodeView] = {}
        for name, profile in profiles.items():
            if name in conflicts:
                continue
            for zone in rules.zones_of(profile.spec):
                exhausted = self.runtime.zone_report(zone).exhausted
                self.zones.seen(zone, exhausted)
                for arch in rules.archs_of(profile.spec):
                    node = rules.node_name(zone, arch)
                    views[node] = rules.NodeView(
                        profile=name,
                        zone_id=zone,
                        region_id=profile.spec.region_id,
                        address=self.node_address,
                        kubelet_port=self._port(node, used),
                        tainted=profile.spec.virtual_node_taint,
                        zone_available=zone_settings(profile.spec, zone).available,
                        stock_exhausted=exhausted,
                        arch=arch,
                    )
        return views, conflicts

    async def reconcile(self) -> None:
        views, conflicts = self.desired()
        for name, view in views.items():
            existing = self.caches.nodes.get(("", name))
            if existing is None:
                body = rules.node_body(view, stamp(self.clock.now()))
                existing, _ = await self.client.create_or_get(paths.nodes(), body)
                self.caches.nodes.put(("", name), existing)
                log.info(
                    "node.created", node=name, profile=view.profile, zone=view.zone_id, port=view.kubelet_port
                )
            if not (existing.get("status") or {}).get("conditions"):
                # Registered but never reported (just now, or a failed attempt before): the Lease first.
                await self.leases.renew(name)
            await self._converge(view, existing)
        self.served = views
        if self.serve_ports is not None:
            await self.serve_ports({v.kubelet_port for v in views.values()})
        for key, node in list(self.caches.nodes.items.items()):
            if key[1] not in views:
                await self._retire(key[1], node)
        await self.statuses.write(views, conflicts)

    async def _converge(self, view: rules.NodeView, node: Body) -> None:
        name = view.name
        patch = rules.node_spec_patch(view, node)
        if patch is not None:
            node = await self.client.merge_patch(paths.node(name), patch)
            self.caches.nodes.put(("", name), node)
            log.info("node.updated", node=name, patch=sorted(patch))
        if rules.node_needs_status(view, node):
            body = {"status": rules.node_status(view, stamp(self.clock.now()))}
            node = await self.client.merge_patch(paths.node_status(name), body)
            self.caches.nodes.put(("", name), node)
            log.info("node.status", node=name, available=view.zone_available)

    async def _retire(self, name: str, node: Body) -> None:
        """Cordon a node no profile asks for; delete it once it holds no pods."""
        if not (node.get("spec") or {}).get("unschedulable"):
            node = await self.client.merge_patch(paths.node(name), {"spec": {"unschedulable": True}})
            self.caches.nodes.put(("", name), node)
            log.info("node.cordoned", node=name, reason="its zone or profile is gone")
        if self.caches.pods_on(name):
            return
        with contextlib.suppress(NotFound):
            await self.client.delete(paths.node(name))
        self.caches.nodes.drop(("", name))
        self.kubelet_ports.pop(name, None)
        log.info("node.deleted", node=name)
