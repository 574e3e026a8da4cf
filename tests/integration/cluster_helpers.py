"""Small helpers shared by the integration tests (objects to create, facts to read)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

GROUP, VERSION = "eci.ask.dev", "v1alpha1"
ANN = "k8s.aliyun.com/"


def rand(n: int = 5) -> str:
    """A short random suffix for names of a test's own objects."""
    return uuid.uuid4().hex[:n]


ProfileFactory = Callable[..., Any]  # the make_profile fixture


async def node_ready(api: ApiClient, name: str) -> bool:
    """Ready as the scheduler sees it: condition Ready=True, a Lease, and no node.kubernetes.io/* taint.

    A new Node carries `node.kubernetes.io/not-ready:NoSchedule` (the API server's TaintNodesByCondition
    admission) until the node-lifecycle controller has seen it Ready; a test that spreads pods over zones
    must wait for that too, or the scheduler counts fewer domains than the test expects.
    """
    node = await client.CoreV1Api(api).read_node(name)
    if not any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
        return False
    if any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or []):
        return False
    leases = await client.CoordinationV1Api(api).list_namespaced_lease(
        "kube-node-lease", field_selector=f"metadata.name={name}"
    )
    return bool(leases.items)


def zone_of(profile: dict[str, Any], index: int = 0) -> str:
    return str(profile["spec"]["vSwitches"][index]["zoneId"])


def virtual_pod(name: str, **extra: Any) -> dict[str, Any]:
    """A pod meant for virtual nodes (tolerates the taint and selects virtual-kubelet nodes)."""
    annotations = extra.pop("annotations", {})
    node_selector = extra.pop("nodeSelector", {"type": "virtual-kubelet"})
    containers = extra.pop("containers", [{"name": "c", "image": "nginx"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "nodeSelector": node_selector,
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
            "containers": containers,
            **extra,
        },
    }


def virtual_deployment(
    name: str,
    replicas: int,
    *,
    annotations: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    **pod_spec: Any,
) -> dict[str, Any]:
    """A Deployment whose pods are meant for virtual nodes (label ``app=<name>``)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                "spec": {
                    "nodeSelector": node_selector or {"type": "virtual-kubelet"},
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                    "containers": containers or [{"name": "app", "image": "nginx"}],
                    **pod_spec,
                },
            },
        },
    }
