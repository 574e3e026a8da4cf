"""``eci-operator resolve``: what ECI would create for a pod, offline, and why.

Reads a Pod (or a workload whose pod template it uses) and an ECIProfile from files or stdin, runs the same
``eci_operator.domain.resolve`` the operator runs, and prints the decision as JSON (default) or as a human
explanation. It needs no cluster. Bad input of any kind is one ``error: ...`` line on stderr and exit code
2; no traceback.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from eci_operator.cli._io import (
    InputError,
    emit,
    fail,
    load_documents,
    note,
    parse_key_values,
    pick,
    read_text,
)
from eci_operator.domain import (
    REGIONAL_REGIONS,
    DomainError,
    DomainErrors,
    Resolution,
    load_profile,
    resolve,
    validate_pod,
)
from eci_operator.domain.spec_tables import TABLES, TableName
from eci_operator.models import ECIProfile, SpotStrategy

# Kinds whose pod template is at spec.template (CronJob: spec.jobTemplate.spec.template).
TEMPLATE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "Job", "DaemonSet", "ReplicationController")
POD_KINDS = ("Pod", *TEMPLATE_KINDS, "CronJob")


def register(subparsers: Any) -> None:
    """Add the ``resolve`` sub-command."""
    parser = subparsers.add_parser(
        "resolve",
        help="show the ECI spec, vSwitches, security groups... a pod would get (offline)",
        description=(
            "Resolve a pod against an ECIProfile exactly as the operator does, without a cluster. The pod "
            "may be a Pod or a Deployment/StatefulSet/ReplicaSet/Job/CronJob/DaemonSet (its pod template)."
        ),
    )
    parser.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        default=None,
        help="the pod or workload, JSON or YAML ('-' or omitted: stdin)",
    )
    parser.add_argument("-p", "--profile", metavar="FILE", required=True, help="the ECIProfile, JSON or YAML")
    parser.add_argument(
        "--namespace-labels",
        metavar="K=V,...",
        default="",
        help="labels of the pod's namespace (for selectors' namespaceSelector)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("json", "text"),
        default="json",
        help="json (default): one JSON document; text: a human explanation",
    )
    parser.set_defaults(func=run)


def pod_from_document(doc: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The pod (metadata + spec) a document describes, and where it came from."""
    kind = doc.get("kind")
    origin = f"{kind} {_name(doc)}"
    if kind == "Pod":
        return dict(doc), origin
    spec = doc.get("spec")
    if kind == "CronJob":
        spec = _get(spec, "jobTemplate", "spec")
    template = _get(spec, "template")
    if not isinstance(template, Mapping) or not isinstance(template.get("spec"), Mapping):
        path = "spec.jobTemplate.spec.template" if kind == "CronJob" else "spec.template"
        raise InputError(f"{origin}: {path} with a pod spec is missing")
    metadata = dict(template.get("metadata") or {})
    outer = doc.get("metadata")
    if isinstance(outer, Mapping) and "namespace" in outer:
        metadata.setdefault("namespace", outer["namespace"])
    metadata.setdefault("name", f"{_name(doc)}-<pod>")
    if kind == "DaemonSet":
        note("DaemonSet pods do not run on ASK virtual nodes; resolving its pod template anyway")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}, origin


def _get(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _name(doc: Mapping[str, Any]) -> str:
    name = _get(doc, "metadata", "name")
    return str(name) if name else "(unnamed)"


def run(args: argparse.Namespace) -> int:
    """Resolve and print; 0 on success, 2 on bad input."""
    try:
        profile_text, profile_name = read_text(args.profile)
        profile_doc, profile_note = pick(
            load_documents(profile_text, profile_name), ("ECIProfile",), profile_name, what="ECIProfile"
        )
        pod_text, pod_name = read_text(args.filename)
        pod_doc, pod_note = pick(
            load_documents(pod_text, pod_name), POD_KINDS, pod_name, what="Pod or workload"
        )
        namespace_labels = parse_key_values(args.namespace_labels, option="--namespace-labels")
        for message in (profile_note, pod_note):
            if message:
                note(message)
        pod, origin = pod_from_document(pod_doc)
    except InputError as exc:
        return fail(str(exc))
    try:
        profile = load_profile(profile_doc)
    except DomainErrors as exc:
        for error in exc.errors:
            fail(f"{profile_name}: {error}")
        return 2
    errors = validate_pod(pod, profile.spec, namespace_labels=namespace_labels)
    if errors:
        for error in errors:
            fail(str(error))
        return 2
    try:
        resolution = resolve(pod, profile.spec, namespace_labels=namespace_labels)
    except DomainError as exc:  # pragma: no cover - validate_pod found nothing, so this cannot happen
        return fail(str(exc))
    if args.output == "text":
        emit(explain(resolution, pod=pod, origin=origin, profile=profile))
    else:
        emit(json.dumps(resolution.to_dict(), indent=2) + "\n")
    return 0


def _source_text(source: str) -> str:
    kind, _, detail = source.partition(":")
    return {
        "annotation": f"the pod's annotation {detail}",
        "selector": f"selector {detail!r} of the profile",
        "profile": "the ECIProfile",
        "containers": "the containers' resources",
        "default": "ECI's default",
    }.get(kind, source)


def _table_text(resolution: Resolution) -> str:
    region = resolution.region_id
    if resolution.spec_table is TableName.SPOT:
        return (
            "the spot table (spot by vCPU and memory: from 2 vCPU, no regional-only spec; "
            "smaller or off-table specs are rounded up into it)"
        )
    if resolution.spec_table is TableName.REGIONAL:
        return f"the regional table ({region} is one of the {len(REGIONAL_REGIONS)} regions with more specs)"
    return f"the all-region table ({region} is not one of the regions with the regional specs)"


def _ignored_lines(resolution: Resolution) -> list[str]:
    if not resolution.ignored_containers:
        return []
    return [
        f"left out of the sum: {', '.join(resolution.ignored_containers)} (env __ECI_RESOURCE_IGNORE__=TRUE)",
    ]


def _spec_reason(resolution: Resolution) -> list[str]:
    source = resolution.sources["candidates"]
    requested = f"{resolution.requested_vcpu:g} vCPU / {resolution.requested_memory_gib:g} GiB"
    if source == "containers":
        return [
            f"the containers need {requested} (per container the limit, else the request; per resource",
            "  the pod needs the larger of the app containers' sum and the largest init container);",
            *_ignored_lines(resolution),
            f"sized on {_table_text(resolution)};",
            *_rounding_steps(resolution),
        ]
    if source == "default":
        return [
            "no container sets CPU or memory, so ECI's default 2 vCPU / 4 GiB applies",
            *_ignored_lines(resolution),
        ]
    origin = "the pod's own annotation" if source.startswith("annotation:") else _source_text(source)
    lines = [
        f"k8s.aliyun.com/eci-use-specs from {origin} (containers need {requested}; not used)",
        *_ignored_lines(resolution),
    ]
    for index, candidate in enumerate(resolution.candidates):
        rounded = resolution.sources.get(f"candidates[{index}]", "")
        if rounded.startswith("rounded:"):
            written = rounded.removeprefix("rounded:")
            lines += [
                f"{written} is not on {_table_text(resolution)}:",
                f"  rounded up to {candidate.name} (billed as rounded)",
            ]
    if len(resolution.candidates) > 1:
        lines.append("ECI tries the candidates in order until one has stock:")
        for index, candidate in enumerate(resolution.candidates, 1):
            lines.append(
                f"  {index}. {candidate.name}: {format_amount_float(candidate.vcpu)} vCPU, "
                f"{format_amount_float(candidate.memory_gib)} GiB ({candidate.kind.value})"
            )
    return lines


def _rounding_steps(resolution: Resolution) -> list[str]:
    """How the request was rounded up on the pod's spec table, step by step."""
    table = TABLES[resolution.spec_table]
    vcpu, memory = Fraction(resolution.requested_vcpu), Fraction(resolution.requested_memory_gib)
    row = min(v for v in table if v >= vcpu)
    chosen = Fraction(resolution.vcpu)
    first = f"  rounded up: the smallest vCPU row >= {float(vcpu):g} is {float(row):g} vCPU"
    if chosen == row:
        return [first + f", whose smallest memory >= {float(memory):g} GiB is {resolution.memory_gib:g} GiB"]
    return [
        first + f", but its largest memory is {float(table[row][-1]):g} GiB < {float(memory):g} GiB;",
        f"  the next row that fits is {resolution.vcpu:g} vCPU, with {resolution.memory_gib:g} GiB",
    ]


def format_amount_float(value: float) -> str:
    """2.0 -> "2", 0.25 -> "0.25" (for prose)."""
    return f"{value:g}"


def explain(resolution: Resolution, *, pod: Mapping[str, Any], origin: str, profile: ECIProfile) -> str:
    """A human explanation of a resolution: each decision, and where it came from."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace", "default")
    lines = [
        f"Pod {namespace}/{metadata.get('name', '(unnamed)')} (from {origin}) on ECIProfile "
        f"{profile.metadata.name or '(unnamed)'} ({profile.spec.region_id}, {profile.spec.vpc_id})",
        "",
        f"Instance spec   {resolution.instance_spec}  ({format_amount_float(resolution.vcpu)} vCPU, "
        f"{format_amount_float(resolution.memory_gib)} GiB; written to k8s.aliyun.com/eci-instance-spec)",
    ]
    lines += [
        f"  because       {line}" if i == 0 else f"                {line}"
        for i, line in enumerate(_spec_reason(resolution))
    ]
    sources = resolution.sources
    spot = resolution.spot
    if spot.strategy is SpotStrategy.NO_SPOT:
        spot_text = "no (pay-as-you-go)"
    else:
        spot_text = spot.strategy.value
        if spot.price_limit is not None:
            spot_text += f", at most {spot.price_limit} CNY/hour"
        spot_text += f", {spot.duration_hours} h protection, fallback {'on' if spot.fallback else 'off'}"
    rows = [
        (
            "vSwitches",
            ", ".join(f"{v} ({resolution.vswitch_zones[v]})" for v in resolution.vswitch_ids),
            sources["vSwitchIds"],
        ),
        ("Scheduling", resolution.schedule_strategy.value, sources["scheduleStrategy"]),
        ("Security groups", ", ".join(resolution.security_group_ids), sources["securityGroupIds"]),
        ("Spot", spot_text, sources["spot.strategy"]),
        ("Fail strategy", resolution.fail_strategy.value, sources["failStrategy"]),
        ("Max pending", f"{resolution.max_pending_minutes} minutes", sources["maxPendingMinutes"]),
    ]
    if resolution.fail_strategy.value == "fail-over":
        rows[-2] = (
            rows[-2][0],
            "fail-over (behaves as fail-back: ECI says the effects are the same)",
            rows[-2][2],
        )
    lines.append("")
    for label, value, source in rows:
        lines.append(f"{label:<15} {value}")
        lines.append(f"{'':<15}   from {_source_text(source)}")
    lines.append("")
    if resolution.matched_selectors:
        lines.append("Selectors       matched: " + ", ".join(resolution.matched_selectors))
        for key, value in resolution.effect_annotations.items():
            lines.append(f"                adds annotation {key}={value}")
        for key, value in resolution.effect_labels.items():
            lines.append(f"                adds label {key}={value}")
    else:
        lines.append("Selectors       none matched")
    lines.append(f"Zones           {', '.join(resolution.zones)} (one virtual node each)")
    if resolution.arch.value == "arm64":
        lines.append("Architecture    arm64 (an ARM ECS type: runs on ASK's ARM virtual node)")
    if resolution.gpus or resolution.requested_gpus:
        lines.append(
            f"GPUs            {resolution.gpus} on the instance ({resolution.requested_gpus} requested "
            "by the containers as nvidia.com/gpu)"
        )
    return "\n".join(lines) + "\n"
