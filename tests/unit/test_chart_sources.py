"""The Helm chart keeps no diverging copies: its CRDs are crds/ byte for byte (``make chart-crds`` copies
them), and its ClusterRole's rules are manifests/rbac.yaml's."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "eci-operator"


def test_the_charts_crds_are_the_crds() -> None:
    ours = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    chart = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert chart == ours
    for name in ours:
        same = (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes()
        assert same, f"charts/eci-operator/crds/{name} differs from crds/{name}: run `make chart-crds`"


def test_the_charts_cluster_role_has_the_manifests_rules() -> None:
    manifests = next(
        d
        for d in yaml.safe_load_all((REPO / "manifests" / "rbac.yaml").read_text())
        if d["kind"] == "ClusterRole"
    )
    template = (CHART / "templates" / "rbac.yaml").read_text()
    block = re.search(r"kind: ClusterRole\n.*?\nrules:\n(.*?)\n---", template, re.S)
    assert block is not None
    assert yaml.safe_load(block.group(1)) == manifests["rules"]
