"""Timestamps as the API server writes them (metav1.Time, MicroTime) and reads them back. Pure."""

from __future__ import annotations

import datetime as dt


def kube_time(value: dt.datetime | None) -> str | None:
    """metav1.Time as the API server writes it back: RFC 3339, whole seconds, UTC."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(value: dt.datetime) -> str:
    """``kube_time`` of a time that is there."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(value: dt.datetime) -> str:
    """metav1.MicroTime (Lease renewTime, Events): microseconds."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nano_time(value: dt.datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet prefixes log lines (``kubectl logs --timestamps``)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def parse_time(value: str) -> dt.datetime:
    """A timestamp the API server wrote (``Z`` or an offset), as an aware datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
