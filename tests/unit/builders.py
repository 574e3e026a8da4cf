"""Builders of test inputs: the test ECIProfile and plain Pod dicts (camelCase, as the API returns them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eci_operator.models import ECIProfileSpec

REPO = Path(__file__).resolve().parents[2]

PROFILE: dict[str, Any] = {
    "regionId": "cn-hangzhou",
    "vpcId": "vpc-demo",
    "securityGroupId": "sg-demo",
    "allowedSecurityGroupIds": ["sg-extra", "sg-other"],
    "vSwitches": [
        {"id": "vsw-i", "zoneId": "cn-hangzhou-i", "cidr": "192.168.0.0/24"},
        {"id": "vsw-j", "zoneId": "cn-hangzhou-j", "cidr": "192.168.1.0/24"},
        {"id": "vsw-i2", "zoneId": "cn-hangzhou-i", "cidr": "192.168.2.0/24"},
    ],
    "selectors": [
        {
            "name": "batch",
            "namespaceSelector": {"matchLabels": {"team": "batch"}},
            "objectSelector": {"matchLabels": {"app": "etl"}},
            "effect": {
                "annotations": {"k8s.aliyun.com/eci-use-specs": "4-8Gi"},
                "labels": {"tier": "batch"},
            },
        },
    ],
    "virtualNodeTaint": True,
    "simulation": {"zones": [{"zoneId": "cn-hangzhou-i", "available": True, "stock": {"2-4Gi": 100}}]},
}


def make_profile(**overrides: Any) -> ECIProfileSpec:
    """The test profile with top-level spec fields replaced."""
    return ECIProfileSpec.model_validate({**PROFILE, **overrides})


def container(
    name: str = "app",
    *,
    cpu: Any = None,
    memory: Any = None,
    limit_cpu: Any = None,
    limit_memory: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """A container dict with optional requests and limits."""
    resources: dict[str, dict[str, Any]] = {}
    for kind, values in (
        ("requests", {"cpu": cpu, "memory": memory}),
        ("limits", {"cpu": limit_cpu, "memory": limit_memory}),
    ):
        present = {key: value for key, value in values.items() if value is not None}
        if present:
            resources[kind] = present
    result: dict[str, Any] = {"name": name, "image": f"registry.example/{name}:1", **extra}
    if resources:
        result["resources"] = resources
    return result


def make_pod(
    *,
    annotations: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Pod dict as the API returns it."""
    pod_spec: dict[str, Any] = {"containers": containers if containers is not None else [container()], **spec}
    if init_containers is not None:
        pod_spec["initContainers"] = init_containers
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "pod-a",
            "namespace": "default",
            "uid": "uid-a",
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": pod_spec,
    }
