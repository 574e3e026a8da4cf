"""The Grafana dashboard is valid dashboard JSON and only queries metrics the operator exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import eci_operator.handlers.instruments  # noqa: F401 - registers the observed instruments

DASHBOARD = Path(__file__).resolve().parents[2] / "manifests" / "grafana" / "eci-operator-dashboard.json"
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "gauge", "table", "text", "heatmap"}
# Families served by handlers.metrics.OperatorCollector at scrape time.
COLLECTED = {
    "eci_operator_api_requests_total",
    "eci_operator_queue_depth",
    "eci_operator_reconciles_total",
    "eci_operator_events_total",
    "eci_operator_virtual_nodes",
    "eci_operator_container_groups",
    "eci_operator_live_cost_cny",
    "eci_operator_stock_remaining",
    "eci_operator_zone_available",
}


def exported() -> set[str]:
    names = set(COLLECTED)
    for family in REGISTRY.collect():
        for sample in family.samples:
            names.add(sample.name)
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_dashboard_has_the_grafana_model_shape() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert isinstance(dash["title"], str)
    assert dash["title"]
    assert isinstance(dash["uid"], str)
    assert len(dash["uid"]) <= 40
    assert isinstance(dash["schemaVersion"], int)
    assert dash["templating"]["list"][0]["type"] == "datasource"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        assert panel["type"] in PANEL_TYPES
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"}
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(t["expr"] and t["refId"] for t in panel["targets"])


def test_every_query_uses_exported_metrics_with_bounded_labels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    names = exported()
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            for metric in re.findall(r"eci_operator_[a-z_]+", target["expr"]):
                assert metric in names, f"{panel['title']}: {metric} is not exported"
            assert "pod" not in re.findall(r"by \(([^)]*)\)", target["expr"])  # never a pod name


def test_metric_names_follow_prometheus_conventions() -> None:
    for family in REGISTRY.collect():
        if not family.name.startswith("eci_operator_"):
            continue
        if family.type == "counter":
            assert any(s.name.endswith("_total") for s in family.samples) or not family.samples
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
