"""Reading Kubernetes objects given as plain dicts, defensively (admission sees whatever clients send).

The one home of the small object helpers (metadata, key, uid, resourceVersion, labels) every layer uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Body = Mapping[str, Any]
Patch = list[dict[str, Any]]


def meta_of(body: Body) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def spec_of(body: Body) -> Mapping[str, Any]:
    spec = body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def strings(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def list_of(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def key_of(body: Body) -> tuple[str, str]:
    """(namespace, name): how caches and the work queue know an object ("" namespace: cluster-scoped)."""
    meta = meta_of(body)
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def uid_of(body: Body | None) -> str:
    return str(meta_of(body or {}).get("uid") or "")


def rv_of(body: Body) -> int:
    """The resourceVersion as a number (0 when absent or not a number)."""
    try:
        return int(meta_of(body).get("resourceVersion") or 0)
    except ValueError:
        return 0


def labels_of(body: Body | None) -> Mapping[str, str]:
    return strings(meta_of(body or {}).get("labels"))


def annotations_of(body: Body | None) -> Mapping[str, str]:
    return strings(meta_of(body or {}).get("annotations"))


def is_daemonset_pod(pod: Body) -> bool:
    return any(
        isinstance(ref, Mapping) and ref.get("kind") == "DaemonSet"
        for ref in list_of(meta_of(pod).get("ownerReferences"))
    )
