"""``eci-operator profile``: tools for ECIProfiles; ``profile from-configmap`` converts a real ASK profile.

A real ASK cluster keeps its ECI settings in the ``kube-system/eci-profile`` ConfigMap (all values strings;
``vSwitchIds`` a comma list, ``selectors`` a JSON string). The ConfigMap has no zone or CIDR per vSwitch
(the cloud knows them), so the user supplies them with ``--vswitch ID=ZONE,CIDR``. The result is an
ECIProfile YAML on stdout, validated by the same model and domain checks as the operator applies. Keys the
emulator does not model are reported on stderr as ignored, never dropped silently.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from eci_operator.cli._io import InputError, emit, fail, load_documents, note, pick, read_text
from eci_operator.domain import DomainErrors, load_profile

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


def register(subparsers: Any) -> None:
    """Add the ``profile`` command group and its ``from-configmap`` sub-command."""
    parser = subparsers.add_parser(
        "profile", help="ECIProfile tools (from-configmap)", description="Tools for ECIProfiles."
    )
    commands = parser.add_subparsers(dest="profile_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda _args: _usage(parser))
    convert = commands.add_parser(
        "from-configmap",
        help="turn a real ASK kube-system/eci-profile ConfigMap into an ECIProfile",
        description=(
            "Read an ASK eci-profile ConfigMap (YAML or JSON, from a file or stdin) and print the equivalent "
            "ECIProfile YAML. Every vSwitch of the ConfigMap needs --vswitch ID=ZONE,CIDR."
        ),
    )
    convert.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        default=None,
        help="the ConfigMap, JSON or YAML ('-' or omitted: stdin)",
    )
    convert.add_argument(
        "--vswitch",
        metavar="ID=ZONE,CIDR",
        action="append",
        default=[],
        help="zone and CIDR of a vSwitch, e.g. vsw-a=cn-hangzhou-i,192.168.0.0/24 (repeatable)",
    )
    convert.add_argument(
        "--region",
        default=None,
        help="region id (default: derived from the zones, cn-hangzhou-i -> cn-hangzhou)",
    )
    convert.add_argument("--name", default="default", help="name of the ECIProfile (default: default)")
    convert.set_defaults(func=run_from_configmap)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def parse_vswitch_options(values: list[str]) -> dict[str, tuple[str, str]]:
    """``ID=ZONE,CIDR`` options into {id: (zone, cidr)}."""
    result: dict[str, tuple[str, str]] = {}
    for value in values:
        vswitch_id, sep, rest = value.partition("=")
        zone, comma, cidr = rest.partition(",")
        if not sep or not comma or not vswitch_id.strip() or not zone.strip() or not cidr.strip():
            raise InputError(
                f"--vswitch: {value!r} is not valid: expected ID=ZONE,CIDR; "
                "allowed: e.g. vsw-a=cn-hangzhou-i,192.168.0.0/24"
            )
        vswitch_id = vswitch_id.strip()
        if vswitch_id in result:
            raise InputError(f"--vswitch: {vswitch_id!r} is given twice")
        result[vswitch_id] = (zone.strip(), cidr.strip())
    return result


def region_of_zone(zone: str) -> str:
    """The region of a zone id: everything before the last ``-`` (cn-hangzhou-i -> cn-hangzhou)."""
    region, sep, _ = zone.rpartition("-")
    if not sep or not region:
        raise InputError(
            f"--vswitch: zone {zone!r} is not valid: no region part; allowed: <region>-<zone>, "
            "e.g. cn-hangzhou-i (or pass --region)"
        )
    return region


def _data(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if doc.get("kind") == "ConfigMap":
        data = doc.get("data") or {}
        if not isinstance(data, Mapping):
            raise InputError(f"{name}: data of the ConfigMap must be an object")
        return data
    return doc


def _string(data: Mapping[str, Any], key: str, name: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError(
                f"{name}: data.{key}: (not set) is not valid: the key is required; "
                f"allowed: a string, as in the real eci-profile ConfigMap"
            )
        return None
    if not isinstance(value, str):
        raise InputError(
            f"{name}: data.{key}: {value!r} is not valid: ConfigMap values are strings; "
            "allowed: a string (quote it in YAML)"
        )
    return value


def configmap_to_profile(
    data: Mapping[str, Any],
    *,
    vswitches: dict[str, tuple[str, str]],
    region: str | None,
    name: str,
    source: str = "<configmap>",
) -> tuple[dict[str, Any], list[str]]:
    """The ECIProfile document for a ConfigMap's data, and the keys ignored."""
    ignored = [key for key in data if key not in USED_KEYS]
    vswitch_text = _string(data, "vSwitchIds", source)
    assert vswitch_text is not None
    ids = [item.strip() for item in vswitch_text.split(",") if item.strip()]
    if not ids:
        raise InputError(
            f"{source}: data.vSwitchIds: {vswitch_text!r} is not valid: no vSwitch id; "
            "allowed: a comma list of vSwitch ids"
        )
    for vswitch_id in ids:
        if vswitch_id not in vswitches:
            raise InputError(
                f"--vswitch: {vswitch_id} (listed in data.vSwitchIds) has no --vswitch; "
                f"allowed: add --vswitch {vswitch_id}=ZONE,CIDR for every vSwitch of the ConfigMap"
            )
    for extra in vswitches:
        if extra not in ids:
            raise InputError(
                f"--vswitch: {extra!r} is not valid: not in the ConfigMap's vSwitchIds; "
                f"allowed: {', '.join(ids)}"
            )
    zones = [vswitches[v][0] for v in ids]
    if region is None:
        regions = sorted({region_of_zone(zone) for zone in zones})
        if len(regions) > 1:
            raise InputError(
                f"--vswitch: the zones are in different regions ({', '.join(regions)}); "
                "allowed: zones of one region, or pass --region"
            )
        region = regions[0]
    spec: dict[str, Any] = {
        "regionId": region,
        "vpcId": _string(data, "vpcId", source),
        "securityGroupId": _string(data, "securityGroupId", source),
        "vSwitches": [{"id": v, "zoneId": vswitches[v][0], "cidr": vswitches[v][1]} for v in ids],
    }
    arm_text = _string(data, "enableLinuxArm64Node", source, required=False)
    if arm_text is not None:
        if arm_text not in ("true", "false"):
            raise InputError(
                f"{source}: data.enableLinuxArm64Node: {arm_text!r} is not valid: not a boolean; "
                'allowed: "true" or "false"'
            )
        spec["enableLinuxArm64Node"] = arm_text == "true"
    selectors_text = _string(data, "selectors", source, required=False)
    if selectors_text is not None and selectors_text.strip():
        try:
            selectors = json.loads(selectors_text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: data.selectors: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from None
        if not isinstance(selectors, list):
            raise InputError(
                f"{source}: data.selectors: a {type(selectors).__name__} is not valid; "
                "allowed: a JSON array of selectors"
            )
        spec["selectors"] = selectors
    document = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": name},
        "spec": spec,
    }
    return document, ignored


def run_from_configmap(args: argparse.Namespace) -> int:
    """Convert and print; 0 on success, 2 on bad input."""
    try:
        text, source = read_text(args.filename)
        documents = load_documents(text, source)
        if any(doc.get("kind") == "ConfigMap" for doc in documents):
            doc, doc_note = pick(documents, ("ConfigMap",), source, what="ConfigMap")
            if doc_note:
                note(doc_note)
        elif len(documents) == 1 and "vSwitchIds" in documents[0]:
            doc = documents[0]  # the ConfigMap's data on its own
        else:
            raise InputError(f"{source}: no ConfigMap found (expected the kube-system/eci-profile ConfigMap)")
        data = _data(doc, source)
        vswitches = parse_vswitch_options(args.vswitch)
        document, ignored = configmap_to_profile(
            data, vswitches=vswitches, region=args.region, name=args.name, source=source
        )
    except InputError as exc:
        return fail(str(exc))
    try:
        profile = load_profile(document)
    except DomainErrors as exc:
        for error in exc.errors:
            fail(f"{source}: {error}")
        return 2
    for key in ignored:
        why = "not modelled by the emulator" if key in KNOWN_IGNORED_KEYS else "unknown key"
        note(f"ignored ConfigMap key {key!r} ({why})")
    # Leave defaults out (empty lists, simulation knobs) but say virtualNodeTaint explicitly: it matters;
    # enableLinuxArm64Node is written when the ConfigMap sets it (exclude_defaults would drop "false").
    body = profile.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    output = {
        "apiVersion": profile.api_version,
        "kind": profile.kind,
        "metadata": body.get("metadata", {}),
        "spec": {
            **body["spec"],
            "virtualNodeTaint": profile.spec.virtual_node_taint,
            **(
                {"enableLinuxArm64Node": profile.spec.enable_linux_arm64_node}
                if "enableLinuxArm64Node" in document["spec"]
                else {}
            ),
        },
    }
    emit(yaml.safe_dump(output, sort_keys=False, default_flow_style=False))
    return 0
