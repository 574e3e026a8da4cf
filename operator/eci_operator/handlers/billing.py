"""The bill of released groups, in ``ECIProfile.status.billing`` per namespace: deleted pods stay on it.

A group's final cost is recorded *before* its ContainerGroup is deleted: ``record`` returns once the amount
is in the profile's status. Amounts are batched (one status write per profile per flush, however many
groups were released) and written with the profile's resourceVersion, so concurrent writers never lose an
update; a conflict re-reads and re-applies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from eci_operator.handlers import instruments
from eci_operator.kube import paths
from eci_operator.kube.client import ApiError, KubeClient

log = structlog.get_logger("eci_operator.billing")
BATCH_WINDOW_SECONDS = 0.2


@dataclass(frozen=True)
class Charge:
    namespace: str
    vcpu_seconds: Decimal
    gib_seconds: Decimal
    cost: Decimal


def _number(value: Decimal) -> float | int:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def apply_charges(billing: dict[str, Any] | None, charges: list[Charge]) -> dict[str, Any]:
    """The new ``status.billing`` after adding ``charges`` (one pod each) to ``billing``."""
    rows = {row["namespace"]: dict(row) for row in (billing or {}).get("namespaces", [])}
    for charge in charges:
        row = rows.setdefault(
            charge.namespace,
            {"namespace": charge.namespace, "pods": 0, "vcpuSeconds": 0, "memoryGiBSeconds": 0, "cost": "0"},
        )
        row["pods"] = int(row.get("pods", 0)) + 1
        row["vcpuSeconds"] = _number(Decimal(str(row.get("vcpuSeconds", 0))) + charge.vcpu_seconds)
        row["memoryGiBSeconds"] = _number(Decimal(str(row.get("memoryGiBSeconds", 0))) + charge.gib_seconds)
        total = Decimal(str(row.get("cost", "0"))) + charge.cost
        row["cost"] = format(total.quantize(Decimal("0.0000000001")).normalize(), "f")
    return {"namespaces": [rows[k] for k in sorted(rows)]}


class BillingRecorder:
    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._pending: dict[str, list[tuple[Charge, asyncio.Future[None]]]] = defaultdict(list)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._flusher(), name="eci-billing")

    async def stop(self) -> None:
        if self._pending:
            await self._flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def record(self, profile: str, charge: Charge) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[profile].append((charge, future))
        self._wake.set()
        await future

    async def _flusher(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_WINDOW_SECONDS)  # let a burst of deletions share one write
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        batches, self._pending = self._pending, defaultdict(list)
        for profile, items in batches.items():
            try:
                await self._write(profile, [c for c, _ in items])
            except Exception as exc:
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in items:
                if not future.done():
                    future.set_result(None)

    async def _write(self, profile: str, charges: list[Charge]) -> None:
        for _ in range(10):
            try:
                current = await self._client.get(f"{paths.profiles()}/{profile}")
            except ApiError as exc:
                if exc.status == 404:
                    log.warning("billing.profile_gone", profile=profile, groups=len(charges))
                    return
                raise
            billing = apply_charges((current.get("status") or {}).get("billing"), charges)
            body = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "status": {"billing": billing},
            }
            try:
                await self._client.merge_patch(paths.profile_status(profile), body)
            except ApiError as exc:
                if exc.status == 409:
                    continue  # somebody wrote the profile meanwhile: read again
                raise
            self.recorded += len(charges)
            for charge in charges:
                instruments.COST_RECORDED.labels(profile, charge.namespace).inc(float(charge.cost))
            log.info("billing.recorded", profile=profile, groups=len(charges))
            return
        raise RuntimeError(f"could not record billing of ECIProfile {profile}: too many conflicts")
