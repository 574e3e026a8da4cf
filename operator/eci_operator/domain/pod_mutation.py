"""Pod mutation at admission: ACK mode (toleration and node selector for ECI pods), zone affinity for
``eci-vswitch``, and the profile's selector effects made visible; as an RFC 6902 JSON patch. Pure.

ACK mode follows ACK's rule that "the label alibabacloud.com/eci=true has the highest priority and
overrides nodeSelector, affinity and anti-affinity, and pod topology spread constraints" (eci.md section 4):
such a pod's nodeSelector is replaced by ``type: virtual-kubelet`` and its affinity and topology spread
constraints are removed (a zone affinity for its ``eci-vswitch`` is then added as for any pod)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eci_operator.domain import annotations as ann
from eci_operator.domain.admission import (
    ECI_LABEL,
    SELECTORS_ANNOTATION,
    VIRTUAL_NODE_TOLERATION,
    VIRTUAL_NODE_TYPE,
    candidate_profiles,
    eci_requested,
    is_daemonset_pod,
    targets_virtual_nodes,
)
from eci_operator.domain.bodies import Body, Patch
from eci_operator.domain.bodies import list_of as _list
from eci_operator.domain.bodies import strings as _strings
from eci_operator.domain.errors import DomainError
from eci_operator.domain.nodes import (
    TAINT_KEY,
    ZONE_LABEL,
)
from eci_operator.domain.selectors import apply_selectors
from eci_operator.models import ECIProfileSpec

ACK_OVERRIDDEN = ("affinity", "topologySpreadConstraints")  # besides nodeSelector, which is replaced


def _add_zone_requirement(pod: dict[str, Any], zones: list[str]) -> None:
    """AND ``topology.kubernetes.io/zone In zones`` into every required node-affinity term."""
    expr = {"key": ZONE_LABEL, "operator": "In", "values": zones}
    spec: dict[str, Any] = pod.setdefault("spec", {})
    found = spec.get("affinity")
    affinity: dict[str, Any] = found if isinstance(found, dict) else {}
    spec["affinity"] = affinity
    node_affinity: dict[str, Any] = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms")
    if not isinstance(terms, list) or not terms:
        required["nodeSelectorTerms"] = [{"matchExpressions": [expr]}]
        return
    for term in terms:
        if not isinstance(term, dict):
            continue
        exprs = term.setdefault("matchExpressions", [])
        if isinstance(exprs, list) and expr not in exprs:
            exprs.append(dict(expr))


def _vswitch_zones(vswitch_ids: Sequence[str], profiles: Iterable[ECIProfileSpec]) -> list[str]:
    zone_of: dict[str, str] = {}
    for profile in profiles:
        for vswitch in profile.vswitches:
            zone_of.setdefault(vswitch.id, vswitch.zone_id)
    return list(dict.fromkeys(zone_of[v] for v in vswitch_ids if v in zone_of))


def mutate_pod(
    pod: Body,
    *,
    namespace_labels: Mapping[str, str],
    eci_namespace: bool,
    profiles: Mapping[str, ECIProfileSpec],
    owners: Mapping[str, str],
) -> dict[str, Any]:
    """The pod as admission leaves it (a new dict; see the module doc for what is added).

    ``eci_namespace``: the API server matched the pod's namespace on ``alibabacloud.com/eci=true`` (so
    the operator's namespace cache, which may lag by a moment, is not needed for that decision).
    """
    out: dict[str, Any] = copy.deepcopy(dict(pod))
    meta = out.setdefault("metadata", {})
    spec = out.setdefault("spec", {})
    labels = _strings(meta.get("labels"))
    ns_labels = dict(namespace_labels)
    if eci_namespace:
        ns_labels[ECI_LABEL] = "true"
    if eci_requested(labels, ns_labels) and not is_daemonset_pod(out):
        tolerations = _list(spec.get("tolerations"))
        if not any(isinstance(t, Mapping) and t.get("key") == TAINT_KEY for t in tolerations):
            spec["tolerations"] = [*tolerations, dict(VIRTUAL_NODE_TOLERATION)]
        spec["nodeSelector"] = {VIRTUAL_NODE_TYPE[0]: VIRTUAL_NODE_TYPE[1]}
        for overridden in ACK_OVERRIDDEN:
            spec.pop(overridden, None)
    if not targets_virtual_nodes(out, namespace_labels=ns_labels):
        return out
    names = [n for n in candidate_profiles(out, owners) if n in profiles]
    if len(names) == 1:
        effects = apply_selectors(
            profiles[names[0]].selectors,
            namespace_labels=ns_labels,
            pod_labels=labels,
            pod_annotations=_strings(meta.get("annotations")),
        )
        if effects.labels:
            meta["labels"] = {**labels, **effects.labels}
        added = dict(effects.annotations)
        if effects.matched and (added or effects.labels):
            added.setdefault(SELECTORS_ANNOTATION, ",".join(effects.matched))
        if added:
            meta["annotations"] = {**added, **_strings(meta.get("annotations"))}
    raw = _strings(meta.get("annotations")).get(ann.VSWITCH)
    if raw is not None and not spec.get("nodeName"):
        try:
            ids = ann.parse_vswitch_ids(raw)
        except DomainError:
            ids = ()  # refused by the validating webhook, which says why
        pool = [profiles[n] for n in names] or list(profiles.values())
        zones = _vswitch_zones(ids, pool)
        if zones:
            _add_zone_requirement(out, zones)
    return out


PATCHED_PATHS = (
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("spec", "tolerations"),
    ("spec", "nodeSelector"),
    ("spec", "affinity"),
    ("spec", "topologySpreadConstraints"),
)


def json_patch(before: Body, after: Body) -> Patch:
    """RFC 6902 ``add`` operations (add replaces) for the parts ``mutate_pod`` may change, and ``remove``
    for those it dropped (ACK mode)."""
    ops: Patch = []
    for parent, child in PATCHED_PATHS:
        old = (before.get(parent) or {}).get(child)
        new = (after.get(parent) or {}).get(child)
        if new is None and old is not None:
            ops.append({"op": "remove", "path": f"/{parent}/{child}"})
        elif new is not None and new != old:
            if parent not in before:
                ops.append({"op": "add", "path": f"/{parent}", "value": {}})
            ops.append({"op": "add", "path": f"/{parent}/{child}", "value": new})
    return ops


def pod_patch(
    pod: Body,
    *,
    namespace_labels: Mapping[str, str],
    eci_namespace: bool,
    profiles: Mapping[str, ECIProfileSpec],
    owners: Mapping[str, str],
) -> Patch:
    """The JSON patch of the mutating webhook (empty when nothing is added)."""
    after = mutate_pod(
        pod, namespace_labels=namespace_labels, eci_namespace=eci_namespace, profiles=profiles, owners=owners
    )
    return json_patch(pod, after)
