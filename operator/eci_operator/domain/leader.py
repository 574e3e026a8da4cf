"""Leader election's record and rules, as client-go's ``leaderelection`` decides them. Pure.

The record lives in a ``coordination.k8s.io`` Lease (``spec``). A candidate never trusts the times written
in it (clocks of two machines differ): it notes *when it observed* the record change, and the lease counts
as held until ``observed_at + leaseDurationSeconds`` by its own clock (client-go's ``observedTime``). A
holder keeps ``acquireTime`` and ``leaseTransitions``; a new holder sets ``acquireTime`` to now and adds
one transition. Releasing writes an empty holder and a one-second duration, so a standby takes over at its
next retry instead of waiting out the lease.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from eci_operator.domain.kubetime import micro_time, parse_time

# client-go's defaults (and controller-runtime's, kube-controller-manager's, kube-scheduler's)
LEASE_DURATION_SECONDS = 15.0
RENEW_DEADLINE_SECONDS = 10.0
RETRY_PERIOD_SECONDS = 2.0
JITTER_FACTOR = 1.2  # client-go's wait.JitterUntil factor for the acquire loop
LEASE_NAME = "eci-operator"
NAMESPACE_OUTSIDE_CLUSTER = "kube-system"


@dataclass(frozen=True)
class Record:
    """A Lease's election fields."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @classmethod
    def of(cls, lease: dict[str, Any]) -> Record:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.transitions,
        }


def validate_durations(lease: float, renew: float, retry: float) -> None:
    """client-go's NewLeaderElector checks: lease > renew deadline > jitter x retry period, all positive."""
    if lease <= renew:
        raise ValueError(
            f"--leader-election-lease-duration {lease} must be greater than the renew deadline {renew}"
        )
    if renew <= JITTER_FACTOR * retry:
        raise ValueError(
            f"--leader-election-renew-deadline {renew} must be greater than {JITTER_FACTOR} x "
            f"the retry period {retry}"
        )
    if retry <= 0:
        raise ValueError(f"--leader-election-retry-period {retry} must be greater than zero")


def held_by_other(observed: Record, observed_at: dt.datetime, identity: str, now: dt.datetime) -> bool:
    """Someone else holds the lease and, by our own clock, it has not expired: do not take it."""
    valid = observed_at + dt.timedelta(seconds=observed.duration_seconds) > now
    return bool(observed.holder) and observed.holder != identity and valid


def claim(observed: Record | None, identity: str, now: dt.datetime, duration_seconds: float) -> Record:
    """The record to write to acquire (a new holder) or renew (the same holder) the lease."""
    stamp = micro_time(now)
    fresh = Record(identity, int(duration_seconds), stamp, stamp, 0)
    if observed is None:
        return fresh
    if observed.holder == identity:
        return replace(fresh, acquire_time=observed.acquire_time, transitions=observed.transitions)
    return replace(fresh, transitions=observed.transitions + 1)


def released(observed: Record, now: dt.datetime) -> Record:
    """Give the lease up: no holder, one second, transitions kept (client-go's ``release``)."""
    stamp = micro_time(now)
    return Record("", 1, stamp, stamp, observed.transitions)


def takeover_seconds(previous: Record, now: dt.datetime) -> float | None:
    """How long the lease went without a live holder before we took it (from its last renewal)."""
    if not previous.renew_time:
        return None
    return max(0.0, (now - parse_time(previous.renew_time)).total_seconds())
