"""Each ECIProfile's status: its nodes, a Ready condition, zone conflicts, whether its spec is in force,
and the running cost; written only when something in it changed."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog

from eci_operator.domain import conditions
from eci_operator.domain import nodes as rules
from eci_operator.domain.bodies import meta_of
from eci_operator.domain.kubetime import stamp
from eci_operator.handlers.caches import Caches
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import NotFound
from eci_operator.runtime.clock import Clock

log = structlog.get_logger("eci_operator.nodes")


class ProfileStatusWriter:
    def __init__(self, client: KubeClient, caches: Caches, clock: Clock) -> None:
        self.client = client
        self.caches = caches
        self.clock = clock

    def _conditions(
        self, name: str, nodes: list[dict[str, Any]], conflict: Mapping[str, str] | None
    ) -> list[dict[str, Any]]:
        entry = self.caches.profiles.entry(name)
        old = ((entry.body if entry else {}).get("status") or {}).get("conditions") or []
        now = stamp(self.clock.now())

        def cond(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
            return conditions.condition(kind, ok, now, previous=old, reason=reason, message=message)

        if conflict:
            taken = ", ".join(f"zone {z} is served by ECIProfile {o}" for z, o in sorted(conflict.items()))
            out = [
                cond("Ready", False, "ZoneConflict", f"no virtual node created: {taken}"),
                cond("ZoneConflict", True, "ZoneClaimed", taken),
            ]
        else:
            ready = sum(1 for n in nodes if n["ready"]) if entry and entry.valid else -1
            reason = "NodesReady" if ready == len(nodes) else "InvalidSpec" if ready < 0 else "NodesNotReady"
            suffix = " (no valid spec yet)" if ready < 0 else ""
            out = [
                cond(
                    "Ready",
                    ready == len(nodes),
                    reason,
                    f"{max(ready, 0)}/{len(nodes)} virtual nodes ready{suffix}",
                ),
                cond("ZoneConflict", False, "NoConflict", "every zone of the profile is served"),
            ]
        invalid = entry.error if entry else None
        message = (
            f"the latest spec does not take effect (the last valid one stays): {invalid}"
            if invalid
            else "the spec is in effect"
        )
        out.append(cond("Valid", invalid is None, "InvalidSpec" if invalid else "SpecAccepted", message))
        return out

    async def write(
        self, views: Mapping[str, rules.NodeView], conflicts: Mapping[str, Mapping[str, str]]
    ) -> None:
        for name in self.caches.profiles.names():
            entry = self.caches.profiles.entry(name)
            if entry is None or entry.derived:
                continue  # (the eci-profile ConfigMap's profile has no status: Events are its output)
            old = entry.body.get("status") or {}
            nodes = [
                {
                    "name": n,
                    "zoneId": v.zone_id,
                    "ready": conditions.is_true(self.caches.nodes.get(("", n)), "Ready"),
                }
                for n, v in views.items()
                if v.profile == name
            ]
            billing = (old.get("billing") or {}).get("namespaces") or []
            recorded = sum((Decimal(str(row.get("cost", "0"))) for row in billing), Decimal(0))
            want = {
                "nodes": nodes,
                "conditions": self._conditions(name, nodes, conflicts.get(name)),
                "observedGeneration": meta_of(entry.body).get("generation"),
                "readyNodes": f"{sum(1 for n in nodes if n['ready'])}/{len(nodes)}",
                "pods": sum(self.caches.pods_on(str(n["name"])) for n in nodes),
                "cost": format(recorded.quantize(Decimal("0.01")), "f"),
            }
            if all(old.get(k) == v for k, v in want.items()):
                continue
            try:
                updated = await self.client.merge_patch(paths.profile_status(name), {"status": want})
            except NotFound:
                continue
            self.caches.profiles.update_body(updated)
            log.info("profile.status", profile=name, nodes=len(nodes), conflict=name in conflicts)
