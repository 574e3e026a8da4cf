"""Reading Kubernetes objects given as plain dicts, defensively (admission sees whatever clients send)."""

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
