"""Admission of ECIProfiles: what the CRD schema cannot say (label syntax, zones claimed by other
profiles, selector effects that can never apply), and the vSwitch mask rule the CRD also enforces (so a
profile the API server judged before the rule existed is told why), each problem with its field path. Pure."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from eci_operator.domain.bodies import Body
from eci_operator.domain.bodies import meta_of as _meta
from eci_operator.domain.configmap import KnownVSwitch, expand_references
from eci_operator.domain.errors import DomainError, from_validation_error
from eci_operator.domain.nodes import ProfileClaim, zone_conflicts
from eci_operator.domain.profiles import validate_profile
from eci_operator.models import ECIProfile, ECIProfileSpec, LabelSelector, Selector

_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def zone_owners(profiles: Mapping[str, ECIProfile], current: Mapping[str, str]) -> dict[str, str]:
    """zone -> the profile that serves it, by the operator's own rule (``domain.nodes.zone_conflicts``).

    ``current`` is zone -> profile as read from the existing virtual nodes (incumbency).
    """
    claims = [
        ProfileClaim(name, p.metadata.creation_timestamp or _LATEST, tuple(p.spec.zone_ids))
        for name, p in profiles.items()
    ]
    losers = zone_conflicts(claims, current)
    return {zone: c.name for c in claims if c.name not in losers for zone in c.zones}


_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
KEY_ALLOWED = (
    "a qualified name: an optional DNS subdomain prefix (<= 253 characters) and '/', then 1-63 "
    "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric "
    "(e.g. 'team' or 'example.com/team')"
)
VALUE_ALLOWED = (
    "empty, or 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric (e.g. 'batch')"
)


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid label/annotation key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "the prefix is not a DNS subdomain"
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        return "the name part is not a valid label name"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None."""
    if value == "":
        return None
    if len(value) > 63 or not _NAME.fullmatch(value):
        return "not a valid label value"
    return None


def _label_selector_errors(selector: LabelSelector | None, path: str) -> list[DomainError]:
    if selector is None:
        return []
    errors: list[DomainError] = []
    for key, value in selector.match_labels.items():
        if why := key_problem(key):
            errors.append(DomainError(f"{path}.matchLabels", key, why, KEY_ALLOWED))
        if why := value_problem(value):
            errors.append(DomainError(f'{path}.matchLabels["{key}"]', value, why, VALUE_ALLOWED))
    for index, requirement in enumerate(selector.match_expressions):
        expr_path = f"{path}.matchExpressions[{index}]"
        if why := key_problem(requirement.key):
            errors.append(DomainError(f"{expr_path}.key", requirement.key, why, KEY_ALLOWED))
        for j, value in enumerate(requirement.values):
            if why := value_problem(value):
                errors.append(DomainError(f"{expr_path}.values[{j}]", value, why, VALUE_ALLOWED))
    return errors


def _selector_syntax_errors(selectors: Sequence[Selector]) -> list[DomainError]:
    errors: list[DomainError] = []
    for index, selector in enumerate(selectors):
        path = f"spec.selectors[{index}]"
        errors += _label_selector_errors(selector.namespace_selector, f"{path}.namespaceSelector")
        errors += _label_selector_errors(selector.object_selector, f"{path}.objectSelector")
        for kind, items in (("labels", selector.effect.labels), ("annotations", selector.effect.annotations)):
            for key, value in items.items():
                if why := key_problem(key):
                    errors.append(DomainError(f"{path}.effect.{kind}", key, why, KEY_ALLOWED))
                if kind == "labels" and (why := value_problem(value)):
                    errors.append(DomainError(f'{path}.effect.labels["{key}"]', value, why, VALUE_ALLOWED))
    return errors


def _covers(earlier: Selector, later: Selector) -> bool:
    """True when ``earlier`` provably matches every pod ``later`` matches (unset, or the same selector)."""
    return all(
        mine is None or mine == theirs
        for mine, theirs in (
            (earlier.namespace_selector, later.namespace_selector),
            (earlier.object_selector, later.object_selector),
        )
    )


def _shadowed_effect_errors(selectors: Sequence[Selector]) -> list[DomainError]:
    """A later selector's effect key that an earlier, broader selector always sets first never applies."""
    errors: list[DomainError] = []
    for later_index, later in enumerate(selectors):
        for kind in ("annotations", "labels"):
            later_items: Mapping[str, str] = getattr(later.effect, kind)
            for key, value in later_items.items():
                for earlier_index, earlier in enumerate(selectors[:later_index]):
                    earlier_items: Mapping[str, str] = getattr(earlier.effect, kind)
                    if key in earlier_items and earlier_items[key] != value and _covers(earlier, later):
                        errors.append(
                            DomainError(
                                f'spec.selectors[{later_index}].effect.{kind}["{key}"]',
                                value,
                                f"never takes effect: selector {earlier.name!r} (spec.selectors"
                                f"[{earlier_index}]) matches every pod this one matches and sets "
                                f"{earlier_items[key]!r} first (an earlier selector wins)",
                                "put the more specific selector first, or drop one of the two values",
                            )
                        )
                        break
    return errors


# "The mask of a vSwitch CIDR block can be /16 to /29" (CreateVSwitch, eci.md section 4).
VSWITCH_MASKS = (16, 29)


def _mask_errors(spec: ECIProfileSpec) -> list[DomainError]:
    low, high = VSWITCH_MASKS
    return [
        DomainError(
            f"spec.vSwitches[{index}].cidr",
            vswitch.cidr,
            f"a /{prefix} mask; a vSwitch CIDR block has a /{low} to /{high} mask",
            f"an IPv4 block with a mask from /{low} to /{high}, e.g. 192.168.0.0/24",
        )
        for index, vswitch in enumerate(spec.vswitches)
        if not low <= (prefix := ipaddress.IPv4Network(vswitch.cidr).prefixlen) <= high
    ]


def _zone_claim_errors(
    name: str,
    spec: ECIProfileSpec,
    old: ECIProfileSpec | None,
    others: Mapping[str, ECIProfileSpec],
) -> list[DomainError]:
    claimed: dict[str, str] = {}
    for other_name, other in sorted(others.items()):
        if other_name != name:
            for zone in other.zone_ids:
                claimed.setdefault(zone, other_name)
    before = set(old.zone_ids) if old is not None else set()
    errors: list[DomainError] = []
    reported: set[str] = set()
    for index, vswitch in enumerate(spec.vswitches):
        zone = vswitch.zone_id
        if zone in claimed and zone not in before and zone not in reported:
            reported.add(zone)
            errors.append(
                DomainError(
                    f"spec.vSwitches[{index}].zoneId",
                    zone,
                    f'zone {zone} is already claimed by ECIProfile "{claimed[zone]}" (one virtual node per '
                    "zone, one profile per zone)",
                    "a zone no other ECIProfile claims",
                )
            )
    return errors


def _expanded(body: Body, vswitches: Mapping[str, KnownVSwitch]) -> Body:
    return {**body, "spec": expand_references(body.get("spec") or {}, vswitches)}


def validate_profile_admission(
    body: Body,
    *,
    old_body: Body | None,
    others: Mapping[str, ECIProfileSpec],
    vswitches: Mapping[str, KnownVSwitch] | None = None,
) -> list[DomainError]:
    """Every problem of an ECIProfile being created or updated (``old_body`` for an update).

    An update that leaves ``spec`` alone is not judged (labels, annotations, finalizers may always change);
    only zones an update *adds* are checked against other profiles, so a profile that already lost a zone
    (created while the operator was down) can still be edited to fix it.
    """
    if old_body is not None and old_body.get("spec") == body.get("spec"):
        return []
    known = vswitches or {}
    try:
        profile = ECIProfile.model_validate(_expanded(body, known))  # vSwitchIds: the VSwitch objects
    except DomainError as error:
        return [error]
    except ValidationError as exc:
        return from_validation_error(exc)  # the domain checks need a well-formed profile
    old: ECIProfileSpec | None = None
    if old_body is not None:
        try:
            old = ECIProfile.model_validate(_expanded(old_body, known)).spec
        except (ValidationError, DomainError):
            old = None
    name = str(_meta(body).get("name") or "")
    return (
        validate_profile(profile.spec)
        + _mask_errors(profile.spec)
        + _selector_syntax_errors(profile.spec.selectors)
        + _shadowed_effect_errors(profile.spec.selectors)
        + _zone_claim_errors(name, profile.spec, old, others)
    )
