"""The simulated VPC inventory: which VSwitch objects serve, and what their status says.

A vSwitch whose CIDR overlaps an older vSwitch of the same VPC does not serve (the VPC API would have
refused to create it; the CRD cannot compare objects, so the operator judges it and says why in the
``Valid`` condition). Addresses in use are counted from the ContainerGroups that hold an IP, so the status
is one aggregated write per vSwitch, never one per pod. Pure.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from eci_operator.domain.configmap import KnownVSwitch
from eci_operator.domain.errors import from_validation_error
from eci_operator.domain.phases import is_terminal
from eci_operator.models.vswitch import VSwitchObject

RESERVED_ADDRESSES = 4  # the first and the last three addresses of a vSwitch (eci.md, section on vSwitches)


def parse(body: Mapping[str, Any]) -> tuple[VSwitchObject | None, str | None]:
    """The VSwitch, or why its body does not validate (the CRD normally refuses such a body first)."""
    try:
        return VSwitchObject.model_validate(body), None
    except ValidationError as exc:
        return None, "; ".join(str(e) for e in from_validation_error(exc))


def overlaps(vswitches: Iterable[VSwitchObject]) -> dict[str, str]:
    """name -> why it does not serve, for each vSwitch overlapping an older one of its VPC."""

    def age(v: VSwitchObject) -> tuple[str, str]:
        created = v.metadata.creation_timestamp
        return (created.isoformat() if created else "~", v.metadata.name or "")

    kept: list[VSwitchObject] = []
    losers: dict[str, str] = {}
    for vswitch in sorted(vswitches, key=age):
        network = ipaddress.IPv4Network(vswitch.spec.cidr_block)
        for older in kept:
            if older.spec.vpc_id == vswitch.spec.vpc_id and network.overlaps(
                ipaddress.IPv4Network(older.spec.cidr_block)
            ):
                losers[vswitch.metadata.name or ""] = (
                    f"spec.cidrBlock: {vswitch.spec.cidr_block!r} is not valid: overlaps "
                    f"{older.spec.cidr_block} of vSwitch {older.spec.v_switch_id} in {older.spec.vpc_id}; "
                    "allowed: a CIDR block no other vSwitch of the VPC uses"
                )
                break
        else:
            kept.append(vswitch)
    return losers


def known(vswitches: Iterable[VSwitchObject], excluded: Mapping[str, str]) -> dict[str, KnownVSwitch]:
    """vSwitchId -> what the cloud knows of it, for the vSwitches that serve."""
    return {
        v.spec.v_switch_id: KnownVSwitch(
            zone_id=v.spec.zone_id,
            cidr=v.spec.cidr_block,
            vpc_id=v.spec.vpc_id,
            available=v.spec.simulation.available,
            stock=dict(v.spec.simulation.stock),
        )
        for v in vswitches
        if (v.metadata.name or "") not in excluded
    }


def addresses_in_use(groups: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """vSwitchId -> ContainerGroups holding one of its addresses (an IP, not yet terminal)."""
    used: Counter[str] = Counter()
    for group in groups:
        status = group.get("status") or {}
        if status.get("ip") and status.get("vSwitchId") and not is_terminal(status.get("phase")):
            used[str(status["vSwitchId"])] += 1
    return used


def capacity(cidr: str) -> int:
    """Addresses ECI may hand out in a vSwitch: the block less the reserved ones."""
    return max(0, ipaddress.IPv4Network(cidr).num_addresses - RESERVED_ADDRESSES)
