"""The bill per profile and namespace: what released groups cost (recorded) plus what live ones cost so far.

Pure: ``bill_rows`` takes ECIProfiles and ContainerGroups as the API returns them and the time to bill up
to; ``format_table`` renders the rows for ``eci-operator bill``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eci_operator.domain import pricing
from eci_operator.models.containergroup import ContainerGroup, ContainerGroupStatus


@dataclass
class BillRow:
    profile: str
    namespace: str
    pods: int = 0
    vcpu_seconds: Decimal = Decimal(0)
    gib_seconds: Decimal = Decimal(0)
    recorded: Decimal = Decimal(0)
    live: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.recorded + self.live


def status_charge(
    status: ContainerGroupStatus | None, now: dt.datetime
) -> tuple[Decimal, Decimal, Decimal] | None:
    """(vCPU-seconds, GiB-seconds, cost) of a group's state so far (open intervals run until ``now``),
    or None if it never held an instance: the one charge formula (the bill, metrics, released groups)."""
    if status is None or not status.price_per_second:
        return None
    intervals = [(i.phase.value, i.start, i.end) for i in status.billed_intervals]
    seconds = pricing.billed_seconds(intervals, now)
    return (
        seconds * Decimal(str(status.vcpu or 0)),
        seconds * Decimal(str(status.memory_gib or 0)),
        pricing.cost(Decimal(status.price_per_second), seconds),
    )


def group_charge(group: ContainerGroup, now: dt.datetime) -> tuple[Decimal, Decimal, Decimal] | None:
    """``status_charge`` of a whole ContainerGroup."""
    return status_charge(group.status, now)


def bill_rows(
    profiles: Iterable[Mapping[str, Any]], groups: Iterable[Mapping[str, Any]], now: dt.datetime
) -> list[BillRow]:
    rows: dict[tuple[str, str], BillRow] = {}

    def row(profile: str, namespace: str) -> BillRow:
        return rows.setdefault((profile, namespace), BillRow(profile, namespace))

    for profile in profiles:
        name = profile["metadata"]["name"]
        for entry in ((profile.get("status") or {}).get("billing") or {}).get("namespaces", []):
            r = row(name, entry["namespace"])
            r.pods += int(entry.get("pods", 0))
            r.vcpu_seconds += Decimal(str(entry.get("vcpuSeconds", 0)))
            r.gib_seconds += Decimal(str(entry.get("memoryGiBSeconds", 0)))
            r.recorded += Decimal(str(entry.get("cost", "0")))
    for body in groups:
        group = ContainerGroup.model_validate(body)
        charge = group_charge(group, now)
        if charge is None:
            continue
        r = row(group.spec.profile, str(group.metadata.namespace))
        r.pods += 1
        r.vcpu_seconds += charge[0]
        r.gib_seconds += charge[1]
        r.live += charge[2]
    return [rows[k] for k in sorted(rows)]


HEADER = (
    "PROFILE",
    "NAMESPACE",
    "PODS",
    "VCPU-HOURS",
    "GIB-HOURS",
    "RECORDED (CNY)",
    "LIVE (CNY)",
    "TOTAL (CNY)",
)


def format_table(rows: list[BillRow]) -> str:
    hours = Decimal(3600)
    table = [HEADER] + [
        (
            r.profile,
            r.namespace,
            str(r.pods),
            f"{r.vcpu_seconds / hours:.4f}",
            f"{r.gib_seconds / hours:.4f}",
            f"{pricing.cents(r.recorded):.2f}",
            f"{pricing.cents(r.live):.2f}",
            f"{pricing.cents(r.total):.2f}",
        )
        for r in rows
    ]
    if rows:
        total = sum((r.total for r in rows), Decimal(0))
        table.append(
            ("TOTAL", "", str(sum(r.pods for r in rows)), "", "", "", "", f"{pricing.cents(total):.2f}")
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table
    )
