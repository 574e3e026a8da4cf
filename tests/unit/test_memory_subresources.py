"""The in-memory API server's status subresources are the CRDs' own (a copy that drifts hides bugs)."""

from __future__ import annotations

from pathlib import Path

import yaml

from eci_operator.kube.memory import WITH_STATUS

CRDS = Path(__file__).resolve().parents[2] / "crds"
CORE_WITH_STATUS = {"pods", "nodes", "namespaces"}


def test_the_fake_has_a_status_subresource_exactly_where_a_crd_has_one() -> None:
    with_status = set()
    for path in CRDS.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            if any("status" in (v.get("subresources") or {}) for v in doc["spec"]["versions"]):
                with_status.add(doc["spec"]["names"]["plural"])
    assert set(WITH_STATUS) == CORE_WITH_STATUS | with_status
