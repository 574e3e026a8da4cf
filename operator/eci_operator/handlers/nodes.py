"""Virtual nodes from ECIProfiles: create, keep in shape, cordon and remove; renew their Leases.

All nodes are reconciled together (one queue key), because zone ownership is decided across profiles.
A node whose zone or profile is gone is cordoned and deleted once no pod is bound to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog

from eci_operator.domain import nodes as rules
from eci_operator.handlers import instruments
from eci_operator.handlers.state import Body, State
from eci_operator.kube import paths
from eci_operator.kube.client import ApiError
from eci_operator.models.profile import ECIProfile

log = structlog.get_logger("eci_operator.nodes")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _zone_available(profile: ECIProfile, zone: str) -> bool:
    for z in profile.spec.simulation.zones:
        if z.zone_id == zone:
            return z.available
    return True


def _port_of(node: Mapping[str, Any] | None) -> int | None:
    if not node:
        return None
    port = (((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get(
        "Port"
    )
    return int(port) if port else None


def desired_views(state: State) -> tuple[dict[str, rules.NodeView], dict[str, dict[str, str]]]:
    """The nodes the profiles ask for, and the zone conflicts of the profiles that lose."""
    claims = [
        rules.ProfileClaim(
            name=name,
            created=p.metadata.creation_timestamp or _now(),
            zones=tuple(rules.zones_of(p.spec)),
        )
        for name, p in state.profiles.items()
    ]
    current = {}
    for existing in state.nodes.items.values():
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if rules.ZONE_LABEL in labels and rules.PROFILE_LABEL in labels:
            current[labels[rules.ZONE_LABEL]] = labels[rules.PROFILE_LABEL]
    conflicts = rules.zone_conflicts(claims, current)
    used_ports = {p for n in state.nodes.items.values() if (p := _port_of(n))}
    views: dict[str, rules.NodeView] = {}
    for name, profile in sorted(state.profiles.items()):
        if name in conflicts:
            continue
        for zone in rules.zones_of(profile.spec):
            node = rules.node_name(zone)
            port = state.kubelet_ports.get(node) or _port_of(state.nodes.get(("", node)))
            if port is None:
                port = state.settings.kubelet_port_base
                while port in used_ports:
                    port += 1
                used_ports.add(port)
            state.kubelet_ports[node] = port
            views[node] = rules.NodeView(
                profile=name,
                zone_id=zone,
                region_id=profile.spec.region_id,
                address=state.settings.node_address,
                kubelet_port=port,
                tainted=profile.spec.virtual_node_taint,
                zone_available=_zone_available(profile, zone),
                stock_exhausted=state.runtime.zone_report(zone).exhausted,
            )
            state.exhausted_zones[zone] = views[node].stock_exhausted
    return views, conflicts


def pods_on(state: State, node: str) -> int:
    return sum(1 for p in state.pods.items.values() if (p.get("spec") or {}).get("nodeName") == node)


async def reconcile_nodes(state: State) -> None:
    views, conflicts = desired_views(state)
    now = _now()
    for name, view in views.items():
        existing = state.nodes.get(("", name))
        if existing is None:
            try:
                created = await state.client.create(paths.nodes(), rules.node_body(view, _stamp(now)))
            except ApiError as exc:
                if exc.status != 409:
                    raise
                created = await state.client.get(paths.node(name))
            state.nodes.put(("", name), created)
            log.info(
                "node.created", node=name, profile=view.profile, zone=view.zone_id, port=view.kubelet_port
            )
            existing = created
        if not ((existing.get("status") or {}).get("conditions")):
            # Registered but never reported (just now, or a failed attempt before): as a kubelet, the
            # Lease first, then the conditions (Ready among them).
            await renew_lease(state, name, now)
        await _converge(state, view, existing, now)
    state.served_zones = {n: {"profile": v.profile, "zone": v.zone_id} for n, v in views.items()}
    if state.serve_kubelet_ports is not None:
        await state.serve_kubelet_ports({v.kubelet_port for v in views.values()})
    for key, node in list(state.nodes.items.items()):
        name = key[1]
        if name in views:
            continue
        await _retire(state, name, node)
    await _write_profile_statuses(state, views, conflicts)


async def _converge(state: State, view: rules.NodeView, node: Body, now: dt.datetime) -> None:
    name = rules.node_name(view.zone_id)
    patch = rules.node_spec_patch(view, node)
    if patch is not None:
        node = await state.client.merge_patch(paths.node(name), patch)
        state.nodes.put(("", name), node)
        log.info("node.updated", node=name, patch=sorted(patch))
    if rules.node_needs_status(view, node):
        body = {"status": rules.node_status(view, _stamp(now))}
        node = await state.client.merge_patch(paths.node_status(name), body)
        state.nodes.put(("", name), node)
        log.info("node.status", node=name, available=view.zone_available)


async def _retire(state: State, name: str, node: Body) -> None:
    """Cordon a node no profile asks for; delete it once it holds no pods."""
    if not (node.get("spec") or {}).get("unschedulable"):
        node = await state.client.merge_patch(paths.node(name), {"spec": {"unschedulable": True}})
        state.nodes.put(("", name), node)
        log.info("node.cordoned", node=name, reason="its zone or profile is gone")
    if pods_on(state, name):
        return
    try:
        await state.client.delete(paths.node(name))
    except ApiError as exc:
        if exc.status != 404:
            raise
    state.nodes.drop(("", name))
    state.kubelet_ports.pop(name, None)
    log.info("node.deleted", node=name)


def _condition(kind: str, ok: bool, reason: str, message: str, old: list[dict[str, Any]]) -> dict[str, Any]:
    status = "True" if ok else "False"
    prev = next((c for c in old if c.get("type") == kind), None)
    when = prev["lastTransitionTime"] if prev and prev.get("status") == status else _stamp(_now())
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": when}


def _node_ready(node: Mapping[str, Any] | None) -> bool:
    for c in ((node or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


async def _write_profile_statuses(
    state: State, views: Mapping[str, rules.NodeView], conflicts: Mapping[str, Mapping[str, str]]
) -> None:
    for name, body in list(state.profile_bodies.items()):
        old = body.get("status") or {}
        old_conditions = old.get("conditions") or []
        nodes = [
            {"name": n, "zoneId": v.zone_id, "ready": _node_ready(state.nodes.get(("", n)))}
            for n, v in views.items()
            if v.profile == name
        ]
        if name in conflicts:
            taken = ", ".join(
                f"zone {z} is served by ECIProfile {o}" for z, o in sorted(conflicts[name].items())
            )
            conditions = [
                _condition(
                    "Ready", False, "ZoneConflict", f"no virtual node created: {taken}", old_conditions
                ),
                _condition("ZoneConflict", True, "ZoneClaimed", taken, old_conditions),
            ]
        else:
            ready = sum(1 for n in nodes if n["ready"]) if name in state.profiles else -1
            conditions = [
                _condition(
                    "Ready",
                    ready == len(nodes),
                    "NodesReady" if ready == len(nodes) else "InvalidSpec" if ready < 0 else "NodesNotReady",
                    f"{max(ready, 0)}/{len(nodes)} virtual nodes ready"
                    + (" (no valid spec yet)" if ready < 0 else ""),
                    old_conditions,
                ),
                _condition(
                    "ZoneConflict", False, "NoConflict", "every zone of the profile is served", old_conditions
                ),
            ]
        invalid = state.invalid_profiles.get(name)
        conditions.append(
            _condition(
                "Valid",
                invalid is None,
                "InvalidSpec" if invalid else "SpecAccepted",
                f"the latest spec does not take effect (the last valid one stays): {invalid}"
                if invalid
                else "the spec is in effect",
                old_conditions,
            )
        )
        generation = (body.get("metadata") or {}).get("generation")
        billing = (old.get("billing") or {}).get("namespaces") or []
        recorded = sum((Decimal(str(row.get("cost", "0"))) for row in billing), Decimal(0))
        want = {
            "nodes": nodes,
            "conditions": conditions,
            "observedGeneration": generation,
            "readyNodes": f"{sum(1 for n in nodes if n['ready'])}/{len(nodes)}",
            "pods": sum(pods_on(state, str(n["name"])) for n in nodes),
            "cost": format(recorded.quantize(Decimal("0.01")), "f"),
        }
        if all(old.get(k) == v for k, v in want.items()):
            continue
        try:
            updated = await state.client.merge_patch(paths.profile_status(name), {"status": want})
        except ApiError as exc:
            if exc.status == 404:
                continue
            raise
        state.profile_bodies[name] = updated
        log.info("profile.status", profile=name, nodes=len(nodes), conflict=name in conflicts)


async def renew_lease(state: State, node: str, now: dt.datetime | None = None) -> None:
    now = now or _now()
    with instruments.LEASE_LATENCY.time():
        outcome = await _renew_lease(state, node, now)
    instruments.LEASE_RENEWALS.labels(outcome).inc()


async def _renew_lease(state: State, node: str, now: dt.datetime) -> str:
    path = paths.lease(rules.LEASE_NAMESPACE, node)
    try:
        await state.client.merge_patch(
            path,
            {
                "spec": {
                    "renewTime": _micro(now),
                    "holderIdentity": node,
                    "leaseDurationSeconds": rules.LEASE_DURATION_SECONDS,
                }
            },
        )
    except ApiError as exc:
        if exc.status != 404:
            raise
        node_body = state.nodes.get(("", node))
        uid = (node_body or {}).get("metadata", {}).get("uid")
        try:
            await state.client.create(
                paths.leases(rules.LEASE_NAMESPACE), rules.lease_body(node, uid, _micro(now))
            )
        except ApiError as exc2:
            if exc2.status != 409:
                raise
        return "created"
    return "ok"


async def lease_loop(state: State) -> None:
    """Renew every node's Lease about every 10 s (40 s duration), forever; one failure is not fatal."""
    while True:
        for key in list(state.nodes.items):
            try:
                await renew_lease(state, key[1])
            except Exception as exc:
                instruments.LEASE_RENEWALS.labels("failed").inc()
                log.warning("lease.failed", node=key[1], error=repr(exc))
        await asyncio.sleep(state.settings.lease_renew_seconds)
