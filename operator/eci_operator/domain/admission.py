"""Admission decisions: which pods are ECI pods, which profile judges them, what to refuse, what to add.

The admission webhooks (``eci_operator.handlers.admission``) ask this module; it answers from plain dicts
and the profiles the operator already caches, and never does I/O. It decides:

* whether a pod is meant for virtual nodes (``targets_virtual_nodes``; mirrored by the CEL match
  conditions in ``domain.webhooks`` so the API server does not even call us for other pods);
* which profiles may serve a pod not yet bound (``candidate_profiles``): the owner of its virtual node
  when bound; else the owners of the zones (or profiles) its nodeSelector / required node affinity names;
  else every profile that serves a zone. A pod is refused only if it is invalid for *every* candidate
  (``validate_pod_admission``); with no candidate, only syntax is checked. Runtime conditions (stock,
  zone availability) are never judged here: ECI decides those when the instance is created;
* the JSON patch that puts ``alibabacloud.com/eci: "true"`` pods on virtual nodes, pins a pod with
  ``eci-vswitch`` to those vSwitches' zones, and makes the serving profile's selector effects visible
  (``pod_mutation.pod_patch``; never overwriting what the pod has);
* what is wrong with an ECIProfile beyond its schema (``validate_profile_admission``): everything
  ``domain.profiles`` finds, label syntax in selectors, zones another profile claims, and selector
  effects that can never take effect because an earlier, broader selector sets the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain import annotations as ann
from eci_operator.domain import lifecycle
from eci_operator.domain.bodies import Body
from eci_operator.domain.bodies import list_of as _list
from eci_operator.domain.bodies import meta_of as _meta
from eci_operator.domain.bodies import spec_of as _spec
from eci_operator.domain.bodies import strings as _strings
from eci_operator.domain.errors import DomainError
from eci_operator.domain.nodes import (
    NODE_PREFIX,
    PROFILE_LABEL,
    TAINT_KEY,
    ZONE_LABEL,
)
from eci_operator.domain.pods import read_pod
from eci_operator.domain.profile_admission import (
    key_problem,
    validate_profile_admission,
    value_problem,
    zone_owners,
)
from eci_operator.domain.profiles import validate_profile
from eci_operator.domain.resolve import resolve, validate_pod
from eci_operator.models import ECIProfileSpec

ECI_LABEL = "alibabacloud.com/eci"  # on a pod or its namespace: "true" sends the pod to virtual nodes
SKIP_LABEL = "eci.ask.dev/skip-admission"  # "true": neither webhook sees the pod (tests of the bind path)
SELECTORS_ANNOTATION = "eci.ask.dev/selectors"  # which profile selectors admission applied, comma-separated
VIRTUAL_NODE_TYPE = ("type", "virtual-kubelet")
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABELS = (ZONE_LABEL, "failure-domain.beta.kubernetes.io/zone")
VIRTUAL_NODE_TOLERATION = {"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


def pod_name(pod: Body, namespace: str | None = None) -> str:
    """``namespace/name`` (``generateName`` + ``*`` before the server names it), for messages and logs."""
    meta = _meta(pod)
    name = meta.get("name") or (f"{meta.get('generateName')}*" if meta.get("generateName") else "(unnamed)")
    return f"{namespace or meta.get('namespace') or 'default'}/{name}"


# ------------------------------------------------------------------------------------------ which pods
def eci_requested(pod_labels: Mapping[str, str], namespace_labels: Mapping[str, str]) -> bool:
    """``alibabacloud.com/eci: "true"`` on the pod, or on its namespace unless the pod says ``"false"``."""
    own = pod_labels.get(ECI_LABEL)
    if own is not None:
        return own == "true"
    return namespace_labels.get(ECI_LABEL) == "true"


def is_daemonset_pod(pod: Body) -> bool:
    return any(
        isinstance(ref, Mapping) and ref.get("kind") == "DaemonSet"
        for ref in _list(_meta(pod).get("ownerReferences"))
    )


def _required_terms(pod: Body) -> list[Mapping[str, Any]]:
    affinity = _spec(pod).get("affinity")
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, Mapping) else None
    required = (
        node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(node_affinity, Mapping)
        else None
    )
    terms = required.get("nodeSelectorTerms") if isinstance(required, Mapping) else None
    return [t for t in _list(terms) if isinstance(t, Mapping)]


def _expressions(term: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in _list(term.get("matchExpressions")) if isinstance(e, Mapping)]


def targets_virtual_nodes(pod: Body, *, namespace_labels: Mapping[str, str]) -> bool:
    """Whether ``pod`` is meant for (or already on) a virtual node.

    Signals: bound to a ``virtual-kubelet-*`` node; a toleration naming the virtual-node taint key (a
    wildcard toleration does not count: system DaemonSets carry it without meaning ECI); a nodeSelector
    ``type=virtual-kubelet`` or on ``eci.ask.dev/profile``; a required node affinity ``type In
    [virtual-kubelet]``; or the ECI label. DaemonSet pods never count (ECI does not run them).
    """
    if is_daemonset_pod(pod):
        return False
    spec = _spec(pod)
    node = spec.get("nodeName")
    if isinstance(node, str) and node.startswith(NODE_PREFIX):
        return True
    if any(isinstance(t, Mapping) and t.get("key") == TAINT_KEY for t in _list(spec.get("tolerations"))):
        return True
    selector = _strings(spec.get("nodeSelector"))
    if selector.get(VIRTUAL_NODE_TYPE[0]) == VIRTUAL_NODE_TYPE[1] or PROFILE_LABEL in selector:
        return True
    for term in _required_terms(pod):
        for expr in _expressions(term):
            if (
                expr.get("key") == VIRTUAL_NODE_TYPE[0]
                and expr.get("operator") == "In"
                and VIRTUAL_NODE_TYPE[1] in _list(expr.get("values"))
            ):
                return True
    return eci_requested(_strings(_meta(pod).get("labels")), namespace_labels)


# ------------------------------------------------------------------------------------ which profiles
@dataclass(frozen=True)
class Placement:
    """Where a pod may go, as far as its own spec says: its node, else the zones/profiles it names.

    ``None`` means "not constrained".
    """

    node: str | None = None
    zones: frozenset[str] | None = None
    profiles: frozenset[str] | None = None


def _narrow(current: frozenset[str] | None, values: Iterable[str]) -> frozenset[str]:
    new = frozenset(values)
    return new if current is None else current & new


def _term_constraints(term: Mapping[str, Any]) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    zones: frozenset[str] | None = None
    profiles: frozenset[str] | None = None
    for expr in _expressions(term):
        if expr.get("operator") != "In":
            continue
        values = [str(v) for v in _list(expr.get("values"))]
        if expr.get("key") in ZONE_LABELS:
            zones = _narrow(zones, values)
        elif expr.get("key") == PROFILE_LABEL:
            profiles = _narrow(profiles, values)
        elif expr.get("key") == HOSTNAME_LABEL:
            zones = _narrow(zones, [v.removeprefix(NODE_PREFIX) for v in values if v.startswith(NODE_PREFIX)])
    return zones, profiles


def _union(parts: list[frozenset[str] | None]) -> frozenset[str] | None:
    if not parts or any(p is None for p in parts):
        return None
    return frozenset().union(*[p for p in parts if p is not None])


def placement(pod: Body) -> Placement:
    """The node, zones and profiles ``pod`` is restricted to by nodeName, nodeSelector and node affinity.

    Node-affinity terms are ORed, so a term list constrains zones only if every term does.
    """
    spec = _spec(pod)
    node = spec.get("nodeName")
    if isinstance(node, str) and node:
        return Placement(node=node)
    zones: frozenset[str] | None = None
    profiles: frozenset[str] | None = None
    selector = _strings(spec.get("nodeSelector"))
    for key in ZONE_LABELS:
        if key in selector:
            zones = _narrow(zones, [selector[key]])
    if PROFILE_LABEL in selector:
        profiles = _narrow(profiles, [selector[PROFILE_LABEL]])
    hostname = selector.get(HOSTNAME_LABEL)
    if hostname is not None:
        zones = _narrow(
            zones, [hostname.removeprefix(NODE_PREFIX)] if hostname.startswith(NODE_PREFIX) else []
        )
    terms = [_term_constraints(t) for t in _required_terms(pod)]
    if terms:
        term_zones = _union([z for z, _ in terms])
        term_profiles = _union([p for _, p in terms])
        if term_zones is not None:
            zones = _narrow(zones, term_zones)
        if term_profiles is not None:
            profiles = _narrow(profiles, term_profiles)
    return Placement(zones=zones, profiles=profiles)


def candidate_profiles(pod: Body, owners: Mapping[str, str]) -> list[str]:
    """The profiles whose virtual nodes ``pod`` may be served by, sorted by name (see the module doc)."""
    where = placement(pod)
    if where.node is not None:
        if not where.node.startswith(NODE_PREFIX):
            return []
        owner = owners.get(where.node.removeprefix(NODE_PREFIX))
        return [owner] if owner else []
    names = {
        profile
        for zone, profile in owners.items()
        if (where.zones is None or zone in where.zones)
        and (where.profiles is None or profile in where.profiles)
    }
    return sorted(names)


# ------------------------------------------------------------------------------------ pod validation
def lifecycle_errors(pod: Body) -> list[DomainError]:
    """Every problem of the ``eci.ask.dev/`` lifecycle annotations (``parse_lifecycle`` stops at one).

    Each annotation is judged on its own (an exit code as if it had its exit-after), then the whole set
    together, which adds what only combinations get wrong (an exit code without an exit-after).
    """
    annotations = _strings(_meta(pod).get("annotations"))
    present = {k: v for k, v in annotations.items() if k.startswith(lifecycle.PREFIX)}
    probes: list[Mapping[str, str]] = []
    for key, value in present.items():
        probe: Mapping[str, str] = {key: value}
        if key == lifecycle.EXIT_CODE:
            probe = {key: value, lifecycle.EXIT_AFTER: "0"}
        probes.append(probe)
    probes.append(present)
    errors: list[DomainError] = []
    for probe in probes:
        try:
            lifecycle.parse_lifecycle({"metadata": {"annotations": probe}, "spec": _spec(pod)})
        except DomainError as error:
            if error not in errors:
                errors.append(error)
    return errors


def syntax_errors(pod: Body) -> list[DomainError]:
    """What is wrong with ``pod`` whatever profile serves it: its fields and every annotation's syntax."""
    facts, errors = read_pod(pod)
    for name, parser in ann.PARSERS.items():
        if name in facts.annotations:
            try:
                parser(facts.annotations[name])
            except DomainError as error:
                errors.append(error)
    return errors + lifecycle_errors(pod)


def _zone_errors(
    pod: Body, profile: ECIProfileSpec, allowed_zones: frozenset[str], namespace_labels: Mapping[str, str]
) -> list[DomainError]:
    """The resolved vSwitches must reach a zone the pod may land in (else binding fails for sure)."""
    try:
        resolution = resolve(pod, profile, namespace_labels=namespace_labels)
    except DomainError:
        return []  # only the profile's own faults are left: reported on the profile, not the pod
    if set(resolution.zones) & allowed_zones:
        return []
    return [
        DomainError(
            ann.VSWITCH,
            ",".join(resolution.vswitch_ids),
            f"these vSwitches are in zone(s) {', '.join(resolution.zones)}, where the pod cannot be placed",
            f"a vSwitch in a zone the pod may land in: {', '.join(sorted(allowed_zones))}",
        )
    ]


def errors_for_profile(
    pod: Body,
    profile_name: str,
    profile: ECIProfileSpec,
    *,
    owners: Mapping[str, str],
    namespace_labels: Mapping[str, str],
) -> list[DomainError]:
    """Every reason ``pod`` would be refused on the virtual nodes of ``profile`` (runtime stock aside)."""
    own_problems = set(validate_profile(profile))  # the profile's own faults are not the pod's
    errors = [
        e for e in validate_pod(pod, profile, namespace_labels=namespace_labels) if e not in own_problems
    ]
    errors += [e for e in lifecycle_errors(pod) if e not in errors]
    if errors:
        return errors
    where = placement(pod)
    served = frozenset(z for z, p in owners.items() if p == profile_name)
    if where.node is not None:
        allowed = frozenset({where.node.removeprefix(NODE_PREFIX)}) & served
    else:
        allowed = served if where.zones is None else served & where.zones
    return _zone_errors(pod, profile, allowed, namespace_labels) if allowed else []


@dataclass(frozen=True)
class PodVerdict:
    """The outcome for one pod: the profiles it was judged against, and why it is refused (if it is)."""

    profiles: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.errors


def validate_pod_admission(
    pod: Body,
    *,
    profiles: Mapping[str, ECIProfileSpec],
    owners: Mapping[str, str],
    namespace_labels: Mapping[str, str],
) -> PodVerdict:
    """Judge a pod meant for virtual nodes; refuse it only if no candidate profile would run it.

    With several candidates that all refuse it, problems common to all are listed once, the others
    with the profile they are about: ``... (ECIProfile "b")``.
    """
    names = [n for n in candidate_profiles(pod, owners) if n in profiles]
    if not names:
        return PodVerdict((), tuple(dict.fromkeys(e.message for e in syntax_errors(pod))))
    per_profile: dict[str, list[str]] = {}
    for name in names:
        found = errors_for_profile(
            pod, name, profiles[name], owners=owners, namespace_labels=namespace_labels
        )
        if not found:
            return PodVerdict(tuple(names), ())
        per_profile[name] = list(dict.fromkeys(e.message for e in found))
    if len(names) == 1:
        return PodVerdict(tuple(names), tuple(per_profile[names[0]]))
    common = [m for m in per_profile[names[0]] if all(m in per_profile[n] for n in names)]
    rest = [f'{m} (ECIProfile "{n}")' for n in names for m in per_profile[n] if m not in common]
    return PodVerdict(tuple(names), tuple(common + rest))


def denial(subject: str, messages: Iterable[str]) -> str:
    """One line per problem, each naming the object: ``pod ns/name: <field>: <value> is not valid: ...``."""
    return "\n".join(f"{subject}: {m}" for m in messages)


__all__ = ["key_problem", "validate_profile_admission", "value_problem", "zone_owners"]
