"""ASK's ``kube-system/eci-profile`` ConfigMap as an ECIProfile document: the one conversion.

Used by ``eci-operator profile from-configmap`` (zones and CIDRs from ``--vswitch`` options) and by the
operator, which watches the ConfigMap live (zones and CIDRs from the VSwitch objects). All values are
strings; ``vSwitchIds`` is a comma list, ``selectors`` a JSON string; there is no region key (the region
comes from the vSwitches' zones). Keys the emulator does not model are returned as ignored. Pure: problems
are ``DomainError``s naming ``data.<key>``, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain.errors import DomainError, DomainErrors
from eci_operator.domain.profiles import load_profile

USED_KEYS = ("vSwitchIds", "securityGroupId", "vpcId", "selectors", "enableLinuxArm64Node")
# Keys of the real ConfigMap (eci.md section 1) that the emulator does not model.
KNOWN_IGNORED_KEYS = (
    "resourceGroupId",
    "enableClusterIp",
    "enablePrivateZone",
    "enableLogController",
    "enablePVCController",
    "enableReuseSSLKey",
    "enableHybridMode",
    "featureGates",
    "slsMachineGroup",
)
CONFIGMAP_NAMESPACE, CONFIGMAP_NAME = "kube-system", "eci-profile"


@dataclass(frozen=True)
class KnownVSwitch:
    """What the cloud knows of a vSwitch: its VPC (None: not known), zone, CIDR, and simulated zone state."""

    zone_id: str
    cidr: str
    vpc_id: str | None = None
    available: bool = True
    stock: Mapping[str, int] | None = None


def region_of_zone(zone: str, *, field: str = "--vswitch") -> str:
    """The region of a zone id: everything before the last ``-`` (cn-hangzhou-i -> cn-hangzhou)."""
    region, sep, _ = zone.rpartition("-")
    if not sep or not region:
        raise DomainError(
            f"{field}: zone", zone, "no region part", "<region>-<zone>, e.g. cn-hangzhou-i (or pass --region)"
        )
    return region


def string_value(data: Mapping[str, Any], key: str, source: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise DomainError(
                f"{source}: data.{key}",
                None,
                "the key is required",
                "a string, as in the real eci-profile ConfigMap",
            )
        return None
    if not isinstance(value, str):
        raise DomainError(
            f"{source}: data.{key}", value, "ConfigMap values are strings", "a string (quote it in YAML)"
        )
    return value


def vswitch_ids(data: Mapping[str, Any], source: str) -> list[str]:
    """The ids of ``data.vSwitchIds`` in order (at least one)."""
    text = string_value(data, "vSwitchIds", source)
    assert text is not None
    ids = [item.strip() for item in text.split(",") if item.strip()]
    if not ids:
        raise DomainError(f"{source}: data.vSwitchIds", text, "no vSwitch id", "a comma list of vSwitch ids")
    return ids


def resolve_vswitch_ids(
    ids: list[str], vswitches: Mapping[str, KnownVSwitch], vpc: str | None, *, field: str
) -> list[dict[str, str]]:
    """Inline vSwitch entries ({id, zoneId, cidr}) for vSwitch ids, from what the cloud knows of them.

    The one lookup of the ConfigMap's ``vSwitchIds`` and of an ECIProfile's ``vSwitchIds`` references.
    """
    known = sorted(vswitches)
    for vswitch_id in ids:
        if vswitch_id not in vswitches:
            raise DomainError(
                field,
                vswitch_id,
                "no such vSwitch (create a VSwitch object of that name)",
                f"the ids of existing vSwitches: {', '.join(known) or '(none)'}",
            )
        other = vswitches[vswitch_id].vpc_id
        if other is not None and other != vpc:
            raise DomainError(
                field,
                vswitch_id,
                f"the vSwitch is in VPC {other}, not in vpcId {vpc}",
                f"vSwitches of {vpc}: "
                + (", ".join(v for v in known if vswitches[v].vpc_id == vpc) or "(none)"),
            )
    return [{"id": v, "zoneId": vswitches[v].zone_id, "cidr": vswitches[v].cidr} for v in ids]


def expand_references(spec: Mapping[str, Any], vswitches: Mapping[str, KnownVSwitch]) -> dict[str, Any]:
    """An ECIProfile spec with its ``vSwitchIds`` (references to VSwitch objects) added to ``vSwitches``."""
    ids = spec.get("vSwitchIds") or []
    if not ids:
        return dict(spec)
    entries = resolve_vswitch_ids(list(ids), vswitches, spec.get("vpcId"), field="spec.vSwitchIds")
    return {**spec, "vSwitches": [*(spec.get("vSwitches") or []), *entries]}


def _selectors(data: Mapping[str, Any], source: str) -> list[Any] | None:
    text = string_value(data, "selectors", source, required=False)
    if text is None or not text.strip():
        return None
    try:
        selectors = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(
            f"{source}: data.selectors",
            text,
            f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
            "a JSON array of selectors",
        ) from None
    if not isinstance(selectors, list):
        raise DomainError(
            f"{source}: data.selectors",
            text,
            f"a JSON {type(selectors).__name__}",
            "a JSON array of selectors",
        )
    return selectors


SIMULATION_PREFIX = "simulation.eci.ask.dev/"  # ConfigMap annotations: the runtime's profile-wide knobs
SIMULATION_KEYS = {  # annotation name -> (ECIProfile spec.simulation field, type)
    "seed": ("seed", int),
    "startupDelaySeconds": ("startupDelaySeconds", float),
    "startupJitterSeconds": ("startupJitterSeconds", float),
    "spotReclaimAfterSeconds": ("spotReclaimAfterSeconds", float),
    # ECI's creation rate limit (ASK's ConfigMap has nothing like it): either one turns it on
    "creationRateLimitBurst": ("creationRateLimit.burst", int),
    "creationRateLimitPerSecond": ("creationRateLimit.perSecond", float),
}
POSITIVE_KEYS = frozenset({"creationRateLimitBurst", "creationRateLimitPerSecond"})  # 0 is no limit


def simulation_annotations(annotations: Mapping[str, str]) -> dict[str, Any]:
    """spec.simulation fields from the ConfigMap's ``simulation.eci.ask.dev/<field>`` annotations."""
    out: dict[str, Any] = {}
    allowed = ", ".join(SIMULATION_PREFIX + k for k in SIMULATION_KEYS)
    for key, text in annotations.items():
        if not key.startswith(SIMULATION_PREFIX):
            continue
        name = key.removeprefix(SIMULATION_PREFIX)
        if name not in SIMULATION_KEYS:
            raise DomainError(f"metadata.annotations[{key!r}]", text, "not a simulation setting", allowed)
        field, kind = SIMULATION_KEYS[name]
        try:
            value = kind(text)
        except ValueError:
            value = -1
        positive = name in POSITIVE_KEYS
        if value < 0 or (positive and value <= 0) or not math.isfinite(value):
            what = "a whole number" if kind is int else ("a number" if positive else "a number of seconds")
            what += " > 0" if positive else " >= 0"
            raise DomainError(f"metadata.annotations[{key!r}]", text, f"not {what}", what)
        if "." in field:
            parent, child = field.split(".", 1)
            out.setdefault(parent, {"enabled": True})[child] = value
        else:
            out[field] = value
    return out


def _simulation(ids: list[str], vswitches: Mapping[str, KnownVSwitch]) -> dict[str, Any]:
    """simulation.zones from the vSwitches' own knobs: a zone is down if any of its vSwitches says so."""
    zones: dict[str, dict[str, Any]] = {}
    for vswitch_id in ids:
        known = vswitches[vswitch_id]
        zone = zones.setdefault(known.zone_id, {"zoneId": known.zone_id})
        if not known.available:
            zone["available"] = False
        if known.stock and "stock" not in zone:
            zone["stock"] = dict(known.stock)
    changed = [z for z in zones.values() if len(z) > 1]
    return {"zones": changed} if changed else {}


def configmap_to_profile(
    data: Mapping[str, Any],
    *,
    vswitches: Mapping[str, KnownVSwitch],
    region: str | None,
    name: str,
    source: str = "<configmap>",
    annotations: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The ECIProfile document for a ConfigMap's data (and its ``simulation.eci.ask.dev/`` annotations),
    and the keys ignored (in the ConfigMap's order)."""
    ignored = [key for key in data if key not in USED_KEYS]
    ids = vswitch_ids(data, source)
    vpc = string_value(data, "vpcId", source)
    entries = resolve_vswitch_ids(ids, vswitches, vpc, field=f"{source}: data.vSwitchIds")
    zones = [vswitches[v].zone_id for v in ids]
    if region is None:
        regions = sorted({region_of_zone(zone) for zone in zones})
        if len(regions) > 1:
            raise DomainError(
                f"{source}: data.vSwitchIds",
                ",".join(ids),
                f"the zones are in different regions ({', '.join(regions)})",
                "vSwitches of one region (or pass --region)",
            )
        region = regions[0]
    spec: dict[str, Any] = {
        "regionId": region,
        "vpcId": vpc,
        "securityGroupId": string_value(data, "securityGroupId", source),
        "vSwitches": entries,
    }
    arm_text = string_value(data, "enableLinuxArm64Node", source, required=False)
    if arm_text is not None:
        if arm_text not in ("true", "false"):
            raise DomainError(
                f"{source}: data.enableLinuxArm64Node", arm_text, "not a boolean", '"true" or "false"'
            )
        spec["enableLinuxArm64Node"] = arm_text == "true"
    selectors = _selectors(data, source)
    if selectors is not None:
        spec["selectors"] = selectors
    simulation = {**_simulation(ids, vswitches), **simulation_annotations(annotations or {})}
    if simulation:
        spec["simulation"] = simulation
    document = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": name},
        "spec": spec,
    }
    return document, ignored


def configmap_problems(
    data: Mapping[str, Any],
    *,
    vswitches: Mapping[str, KnownVSwitch],
    name: str,
    source: str,
    annotations: Mapping[str, str] | None = None,
) -> list[DomainError]:
    """Why a ConfigMap's data would not take effect (empty: it would), for the admission webhook.

    The same judgement as the operator's (this conversion, then the ECIProfile model and domain checks).
    """
    try:
        document, _ = configmap_to_profile(
            data, vswitches=vswitches, region=None, name=name, source=source, annotations=annotations
        )
        load_profile(document)
    except DomainErrors as errors:
        return list(errors.errors)
    except DomainError as error:
        return [error]
    return []
