"""Status conditions: one builder that keeps ``lastTransitionTime`` while the status holds, one reader.

Pods, nodes and ECIProfiles all carry conditions; an unchanged condition must compare equal to what the
object has (so nothing is written again), which means keeping its transition time. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def find(conditions: Iterable[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == kind), None)


def of(body: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The conditions in an object's status."""
    return list(((body or {}).get("status") or {}).get("conditions") or [])


def is_true(body: Mapping[str, Any] | None, kind: str) -> bool:
    """The object's condition ``kind`` is True (a node's or a pod's Ready, say)."""
    cond = find(of(body), kind)
    return bool(cond and cond.get("status") == "True")


def condition(
    kind: str,
    ok: bool,
    now: str,
    *,
    previous: Iterable[Mapping[str, Any]] | None = None,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """A condition; its ``lastTransitionTime`` is the previous one's while the status is the same."""
    status = "True" if ok else "False"
    old = find(previous, kind) or {}
    transition = old.get("lastTransitionTime") if old.get("status") == status else None
    cond: dict[str, Any] = {"type": kind, "status": status, "lastTransitionTime": transition or now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond
