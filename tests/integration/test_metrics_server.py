"""metrics-server is part of the local control plane: metrics.k8s.io is served through the aggregation layer.

`cluster up` starts metrics-server and registers it (RBAC, an ExternalName Service, the APIService); the
APIService is Available with no node at all. On another cluster (kind) this needs a metrics-server of its own.
"""

from __future__ import annotations

import json
from typing import Any

from helpers import wait_for_sync

APISERVICE = "v1beta1.metrics.k8s.io"


def test_metrics_apiservice_is_available(kubectl: Any) -> None:
    def available() -> bool:
        got = json.loads(kubectl("get", "apiservice", APISERVICE, "-o", "json").stdout)
        conditions = got.get("status", {}).get("conditions", [])
        return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

    wait_for_sync(available, 60, what=f"APIService {APISERVICE} Available")
    service = json.loads(kubectl("get", "apiservice", APISERVICE, "-o", "json").stdout)["spec"]["service"]
    assert (service["namespace"], service["name"]) == ("kube-system", "metrics-server")


def test_node_and_pod_metrics_lists_are_served(kubectl: Any) -> None:
    def raw(path: str) -> dict[str, Any]:
        return dict(json.loads(kubectl("get", "--raw", path).stdout))

    nodes = wait_for_sync(
        lambda: raw("/apis/metrics.k8s.io/v1beta1/nodes"), 60, what="metrics.k8s.io to answer for nodes"
    )
    assert nodes["kind"] == "NodeMetricsList"
    assert isinstance(nodes["items"], list)
    pods = raw("/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods")
    assert pods["kind"] == "PodMetricsList"
