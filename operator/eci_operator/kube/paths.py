"""API paths of the objects the operator reads and writes (one place, so nothing is spelled twice)."""

from __future__ import annotations

from eci_operator.models._base import API_VERSION

CG_BASE = f"/apis/{API_VERSION}"


def pod(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def pod_status(namespace: str, name: str) -> str:
    return pod(namespace, name) + "/status"


def pods() -> str:
    return "/api/v1/pods"


def group_version() -> str:
    """The API group's discovery document (its resources and subresources)."""
    return CG_BASE


def container_groups(namespace: str | None = None) -> str:
    if namespace is None:
        return f"{CG_BASE}/containergroups"
    return f"{CG_BASE}/namespaces/{namespace}/containergroups"


def container_group(namespace: str, name: str) -> str:
    return f"{container_groups(namespace)}/{name}"


def container_group_status(namespace: str, name: str) -> str:
    return container_group(namespace, name) + "/status"


def loads() -> str:
    return f"{CG_BASE}/loads"


def load_status(namespace: str, name: str) -> str:
    return f"{CG_BASE}/namespaces/{namespace}/loads/{name}/status"


def profiles() -> str:
    return f"{CG_BASE}/eciprofiles"


def profile_status(name: str) -> str:
    return f"{profiles()}/{name}/status"


def nodes() -> str:
    return "/api/v1/nodes"


def node(name: str) -> str:
    return f"/api/v1/nodes/{name}"


def node_status(name: str) -> str:
    return node(name) + "/status"


def leases(namespace: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


def lease(namespace: str, name: str) -> str:
    return f"{leases(namespace)}/{name}"


def events(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/events"


def namespaces() -> str:
    return "/api/v1/namespaces"


IMC_BASE = "/apis/eci.alibabacloud.com/v1"


def image_caches() -> str:
    return f"{IMC_BASE}/imagecaches"


def image_cache_status(name: str) -> str:
    return f"{image_caches()}/{name}/status"


def vswitches() -> str:
    return f"{CG_BASE}/vswitches"


def vswitch_status(name: str) -> str:
    return f"{vswitches()}/{name}/status"


def configmaps(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"
