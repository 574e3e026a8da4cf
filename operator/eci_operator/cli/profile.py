"""``eci-operator profile``: tools for ECIProfiles; ``profile from-configmap`` converts a real ASK profile.

A real ASK cluster keeps its ECI settings in the ``kube-system/eci-profile`` ConfigMap (all values strings;
``vSwitchIds`` a comma list, ``selectors`` a JSON string). The ConfigMap has no zone or CIDR per vSwitch
(the cloud knows them), so the user supplies them with ``--vswitch ID=ZONE,CIDR``. The result is an
ECIProfile YAML on stdout, validated by the same model and domain checks as the operator applies. Keys the
emulator does not model are reported on stderr as ignored, never dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from eci_operator.cli._io import InputError, emit, fail, load_documents, note, pick, read_text
from eci_operator.domain import DomainErrors, load_profile
from eci_operator.domain.configmap import KNOWN_IGNORED_KEYS, KnownVSwitch, configmap_to_profile, vswitch_ids
from eci_operator.domain.errors import DomainError


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


def _data(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if doc.get("kind") == "ConfigMap":
        data = doc.get("data") or {}
        if not isinstance(data, Mapping):
            raise InputError(f"{name}: data of the ConfigMap must be an object")
        return data
    return doc


def _checked_vswitches(
    data: Mapping[str, Any], options: dict[str, tuple[str, str]], source: str
) -> dict[str, KnownVSwitch]:
    """The --vswitch options as the cloud's knowledge, each one listed in the ConfigMap and vice versa."""
    ids = vswitch_ids(data, source)
    for vswitch_id in ids:
        if vswitch_id not in options:
            raise InputError(
                f"--vswitch: {vswitch_id} (listed in data.vSwitchIds) has no --vswitch; "
                f"allowed: add --vswitch {vswitch_id}=ZONE,CIDR for every vSwitch of the ConfigMap"
            )
    for extra in options:
        if extra not in ids:
            raise InputError(
                f"--vswitch: {extra!r} is not valid: not in the ConfigMap's vSwitchIds; "
                f"allowed: {', '.join(ids)}"
            )
    return {v: KnownVSwitch(zone_id=zone, cidr=cidr) for v, (zone, cidr) in options.items()}


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
        vswitches = _checked_vswitches(data, parse_vswitch_options(args.vswitch), source)
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        document, ignored = configmap_to_profile(
            data,
            vswitches=vswitches,
            region=args.region,
            name=args.name,
            source=source,
            annotations=annotations if isinstance(annotations, dict) else {},
        )
    except (InputError, DomainError) as exc:
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
