"""Simulated ECI stock: how many instances of each spec a zone can run at the same time.

From ``ECIProfile.spec.simulation.zones[].stock``: keys use the eci-use-specs syntax (``2-4Gi`` is the same
spec as ``2.0-4.0Gi``), plus our ``"*"`` for every spec not listed. A spec with no entry (and no ``"*"``)
is unlimited; 0 means none. Stock counts groups that hold an instance (not yet terminal); capacity freed by
a deletion is reused. A zone is *exhausted* when it has a ``"*"`` entry and every entry is used up — only
then can no spec at all be created there. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from eci_operator.domain.specs import parse_spec
from eci_operator.models.profile import ECIProfileSpec, ZoneSimulation

ANY = "*"


def normalised_stock(zone: ZoneSimulation) -> dict[str, int]:
    """Stock keyed by normalised spec name (``2.0-4.0Gi``) and ``"*"``."""
    out: dict[str, int] = {}
    for key, count in zone.stock.items():
        name = ANY if key == ANY else parse_spec(key, field="stock").name
        out[name] = count
    return out


def zone_settings(profile: ECIProfileSpec, zone_id: str) -> ZoneSimulation:
    for zone in profile.simulation.zones:
        if zone.zone_id == zone_id:
            return zone
    return ZoneSimulation(zone_id=zone_id)


def stock_key(limits: Mapping[str, int], spec: str) -> str | None:
    """The entry that governs ``spec`` (its own, else ``"*"``), or None when unlimited."""
    if spec in limits:
        return spec
    if ANY in limits:
        return ANY
    return None


def has_stock(limits: Mapping[str, int], used: Mapping[str, int], spec: str) -> bool:
    key = stock_key(limits, spec)
    return key is None or used.get(key, 0) < limits[key]


def exhausted(limits: Mapping[str, int], used: Mapping[str, int]) -> bool:
    return ANY in limits and all(used.get(k, 0) >= n for k, n in limits.items())


def remaining(limits: Mapping[str, int], used: Mapping[str, int]) -> dict[str, int]:
    return {k: max(0, n - used.get(k, 0)) for k, n in limits.items()}
