"""vCPU used against vCPU billed, per namespace, for the pods running now: what over-sized specs cost.

ECI bills the instance's vCPU whatever the containers use. ``utilisation_rows`` takes the running
ContainerGroups (their instance vCPU: billed) and the pods' usage (cores: ``metrics.k8s.io`` PodMetrics as
the API returns them, or the operator's own reading) and gives, per namespace, both and their ratio;
``format_utilisation`` renders them for ``eci-operator bill``. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain.errors import DomainError
from eci_operator.domain.quantity import cpu_cores
from eci_operator.models.containergroup import ContainerGroupPhase


@dataclass
class UtilisationRow:
    namespace: str
    pods: int = 0
    billed_vcpu: float = 0.0
    used_vcpu: float = 0.0

    @property
    def ratio(self) -> float:
        return self.used_vcpu / self.billed_vcpu if self.billed_vcpu else 0.0


def pod_usage(pod_metrics: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """Cores in use per pod from a ``PodMetricsList``'s items (containers summed)."""
    used: dict[tuple[str, str], float] = {}
    for item in pod_metrics:
        meta = item.get("metadata") or {}
        total = 0.0
        for container in item.get("containers") or []:
            try:
                total += float(cpu_cores((container.get("usage") or {}).get("cpu", "0"), field="usage.cpu"))
            except DomainError:
                continue
        used[(str(meta.get("namespace")), str(meta.get("name")))] = total
    return used


def utilisation_rows(
    groups: Iterable[Mapping[str, Any]], used: Mapping[tuple[str, str], float]
) -> list[UtilisationRow]:
    """Per namespace: running groups, their instances' vCPU (billed) and the cores their pods use."""
    rows: dict[str, UtilisationRow] = {}
    for group in groups:
        status = group.get("status") or {}
        if status.get("phase") != ContainerGroupPhase.RUNNING.value or not status.get("vcpu"):
            continue
        meta = group.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        row = rows.setdefault(namespace, UtilisationRow(namespace))
        row.pods += 1
        row.billed_vcpu += float(status["vcpu"])
        row.used_vcpu += used.get((namespace, name), 0.0)
    return [rows[k] for k in sorted(rows)]


def format_utilisation(rows: list[UtilisationRow]) -> str:
    header = ("NAMESPACE", "RUNNING", "VCPU-BILLED", "VCPU-USED", "USED/BILLED")
    table = [header] + [
        (r.namespace, str(r.pods), f"{r.billed_vcpu:.3f}", f"{r.used_vcpu:.3f}", f"{100 * r.ratio:.1f}%")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table
    )
