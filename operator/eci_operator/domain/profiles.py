"""Judging an ECIProfile: the checks that need domain knowledge beyond the CRD schema.

The pydantic model (and the CRD's OpenAPI/CEL rules) check shape, syntax and ranges. What only the domain
knows is checked here: that selector effects carry annotations the resolution can parse, that a selector's
vSwitches and security groups belong to the profile, that stock keys name real specs, and that vSwitch
CIDRs do not overlap. ``load_profile`` is the one entry point for untrusted profile documents (the CLI);
it turns pydantic errors into ``DomainError``s with field paths.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from eci_operator.domain.annotations import PARSERS, SECURITY_GROUP, VSWITCH
from eci_operator.domain.errors import DomainError, DomainErrors, from_validation_error
from eci_operator.domain.spec_tables import table_for
from eci_operator.domain.specs import on_table, parse_spec
from eci_operator.models import ECIProfile, ECIProfileSpec


def allowed_security_groups(profile: ECIProfileSpec) -> list[str]:
    """The security groups a pod may ask for: the profile's default first, then the allowed ones."""
    return list(dict.fromkeys([profile.security_group_id, *profile.allowed_security_group_ids]))


def check_vswitch_ids(
    ids: tuple[str, ...], profile: ECIProfileSpec, *, field: str = VSWITCH
) -> list[DomainError]:
    """Every id must be a vSwitch of the profile."""
    known = {v.id for v in profile.vswitches}
    allowed = "vSwitches of the profile: " + ", ".join(f"{v.id} ({v.zone_id})" for v in profile.vswitches)
    return [
        DomainError(field, vid, "not a vSwitch of the ECIProfile", allowed) for vid in ids if vid not in known
    ]


def check_security_group_ids(
    ids: tuple[str, ...], profile: ECIProfileSpec, *, field: str = SECURITY_GROUP
) -> list[DomainError]:
    """Every id must be the profile's securityGroupId or one of its allowedSecurityGroupIds."""
    allowed_ids = allowed_security_groups(profile)
    allowed = "the profile's securityGroupId or allowedSecurityGroupIds: " + ", ".join(allowed_ids)
    return [
        DomainError(field, sg, "not allowed by the ECIProfile", allowed)
        for sg in ids
        if sg not in allowed_ids
    ]


def _relocate(error: DomainError, field: str) -> DomainError:
    return DomainError(field, error.value, error.why, error.allowed)


def validate_profile(profile: ECIProfileSpec) -> list[DomainError]:
    """Every domain-level problem of a (schema-valid) profile spec; field paths start with ``spec.``."""
    errors: list[DomainError] = []
    networks = [ipaddress.IPv4Network(v.cidr) for v in profile.vswitches]
    for later in range(len(networks)):
        for earlier in range(later):
            if networks[later].overlaps(networks[earlier]):
                errors.append(
                    DomainError(
                        f"spec.vSwitches[{later}].cidr",
                        profile.vswitches[later].cidr,
                        f"overlaps {profile.vswitches[earlier].cidr} of {profile.vswitches[earlier].id}",
                        "CIDR blocks that do not overlap (vSwitches of one VPC never do)",
                    )
                )
    for index, selector in enumerate(profile.selectors):
        for key, value in selector.effect.annotations.items():
            parser = PARSERS.get(key)
            if parser is None:
                continue
            field = f'spec.selectors[{index}].effect.annotations["{key}"]'
            try:
                parsed = parser(value)
            except DomainError as error:
                errors.append(_relocate(error, field))
                continue
            if key == VSWITCH and isinstance(parsed, tuple):
                errors.extend(check_vswitch_ids(parsed, profile, field=field))
            elif key == SECURITY_GROUP and isinstance(parsed, tuple):
                errors.extend(check_security_group_ids(parsed, profile, field=field))
    for index, zone in enumerate(profile.simulation.zones):
        seen: dict[str, str] = {}
        for key in zone.stock:
            field = f'spec.simulation.zones[{index}].stock["{key}"]'
            if key == "*":  # every spec not listed (see domain/stock.py)
                continue
            try:
                candidate = parse_spec(key, field=field)
            except DomainError as error:
                errors.append(error)
                continue
            name = candidate.name
            table = table_for(profile.region_id)
            if not on_table(candidate, table):
                errors.append(
                    DomainError(
                        field,
                        key,
                        f"not a spec of {profile.region_id}'s table (ECI creates only table specs, so "
                        "no instance would ever use this stock)",
                        "a spec of the region's table, e.g. 2-4Gi (see README, the spec tables)",
                    )
                )
            if name in seen:
                errors.append(DomainError(field, key, f"the same spec as {seen[name]!r}", "each spec once"))
            seen[name] = key
    return errors


def load_profile(document: Mapping[str, Any]) -> ECIProfile:
    """A whole ECIProfile object from untrusted input, fully validated.

    Raises ``DomainErrors`` listing every problem, each named by its path (``spec.vSwitches[0].cidr``).
    """
    try:
        profile = ECIProfile.model_validate(document)
    except ValidationError as exc:
        raise DomainErrors(from_validation_error(exc)) from None
    if errors := validate_profile(profile.spec):
        raise DomainErrors(errors)
    return profile
