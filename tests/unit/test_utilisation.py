"""vCPU billed against vCPU used per namespace (domain.utilisation), from groups and PodMetrics."""

from __future__ import annotations

import pytest

from eci_operator.domain.utilisation import format_utilisation, pod_usage, utilisation_rows


def group(ns: str, name: str, phase: str, vcpu: float) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name}, "status": {"phase": phase, "vcpu": vcpu}}


def test_billed_against_used_per_namespace() -> None:
    metrics = [
        {
            "metadata": {"namespace": "a", "name": "p1"},
            "containers": [{"usage": {"cpu": "250m"}}, {"usage": {"cpu": "250m"}}],
        },
        {"metadata": {"namespace": "a", "name": "p2"}, "containers": [{"usage": {"cpu": "1500000n"}}]},
        {"metadata": {"namespace": "b", "name": "p3"}, "containers": [{"usage": {"cpu": "bad"}}]},
    ]
    used = pod_usage(metrics)
    assert used[("a", "p1")] == pytest.approx(0.5)
    groups = [group("a", "p1", "Running", 2), group("a", "p2", "Running", 2), group("b", "p3", "Pending", 4)]
    (row,) = utilisation_rows(groups, used)
    assert (row.namespace, row.pods, row.billed_vcpu) == ("a", 2, 4.0)
    assert row.ratio == pytest.approx(0.5015 / 4)
    assert "12.5%" in format_utilisation([row])
