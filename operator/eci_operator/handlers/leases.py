"""Node heartbeats: each virtual node's Lease in kube-node-lease, renewed about every 10 s (40 s duration),
created (owned by its node, as the kubelet does) when missing."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from eci_operator.domain import nodes as rules
from eci_operator.domain.bodies import uid_of
from eci_operator.domain.kubetime import micro_time
from eci_operator.handlers import instruments
from eci_operator.handlers.store import Store
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Conflict, NotFound
from eci_operator.runtime.clock import Clock

log = structlog.get_logger("eci_operator.nodes")


class LeaseRenewer:
    def __init__(self, client: KubeClient, nodes: Store, clock: Clock, *, every_seconds: float) -> None:
        self.client = client
        self.nodes = nodes
        self.clock = clock
        self.every_seconds = every_seconds

    async def renew(self, node: str) -> None:
        with instruments.LEASE_LATENCY.time():
            outcome = await self._renew(node)
        instruments.LEASE_RENEWALS.labels(outcome).inc()

    async def _renew(self, node: str) -> str:
        now = micro_time(self.clock.now())
        try:
            await self.client.merge_patch(
                paths.lease(rules.LEASE_NAMESPACE, node),
                {
                    "spec": {
                        "renewTime": now,
                        "holderIdentity": node,
                        "leaseDurationSeconds": rules.LEASE_DURATION_SECONDS,
                    }
                },
            )
            return "ok"
        except NotFound:
            pass
        with contextlib.suppress(Conflict):
            await self.client.create(
                paths.leases(rules.LEASE_NAMESPACE),
                rules.lease_body(node, uid_of(self.nodes.get(("", node))) or None, now),
            )
        return "created"

    async def run(self) -> None:
        """Renew every node's Lease forever; one failure is not fatal."""
        while True:
            for key in self.nodes:
                try:
                    await self.renew(key[1])
                except Exception as exc:
                    instruments.LEASE_RENEWALS.labels("failed").inc()
                    log.warning("lease.failed", node=key[1], error=repr(exc))
            await asyncio.sleep(self.every_seconds)
