"""The ECIProfiles the operator knows: per name, the latest body and the last valid spec, or why not.

One record per name instead of parallel dicts kept in step by hand. As ASK with a malformed eci-profile, a
spec that does not validate does not take effect: the last valid one stays in force, and the reason is
kept for the profile's ``Valid`` condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from eci_operator.domain.bodies import meta_of
from eci_operator.domain.configmap import KnownVSwitch, expand_references
from eci_operator.domain.errors import DomainError, from_validation_error
from eci_operator.domain.profiles import validate_profile
from eci_operator.models.profile import ECIProfile


@dataclass
class ProfileEntry:
    body: dict[str, Any]  # the latest body seen (its status too)
    valid: ECIProfile | None  # the last valid version, in force
    error: str | None  # why the latest spec does not take effect
    derived: bool = False  # built from the eci-profile ConfigMap (no ECIProfile object, no status)


class ProfileCache:
    def __init__(self) -> None:
        self._entries: dict[str, ProfileEntry] = {}
        # What the VSwitch objects say (vSwitchId -> zone, CIDR, VPC), for profiles' vSwitchIds references.
        self.inventory: Mapping[str, KnownVSwitch] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> ProfileEntry | None:
        return self._entries.get(name)

    def valid(self) -> dict[str, ECIProfile]:
        """Every profile in force, by name."""
        return {n: e.valid for n, e in sorted(self._entries.items()) if e.valid is not None}

    def get(self, name: str) -> ECIProfile | None:
        entry = self._entries.get(name)
        return entry.valid if entry else None

    def put(self, body: dict[str, Any]) -> tuple[bool, ECIProfile | None]:
        """Take a body: (did its spec change?, the newly valid profile if it took effect)."""
        name = str(meta_of(body).get("name"))
        entry = self._entries.get(name)
        if entry is not None and meta_of(entry.body).get("generation") == meta_of(body).get("generation"):
            entry.body = body  # only the status (or metadata) changed: our own write, most likely
            return False, None
        return True, self._judge(name, body)

    def put_derived(self, name: str, document: dict[str, Any]) -> tuple[bool, ECIProfile | None]:
        """Take a profile derived from another object (the eci-profile ConfigMap): no generation, no status.

        (did the spec change?, the newly valid profile if it took effect).
        """
        entry = self._entries.get(name)
        if entry is not None and entry.body.get("spec") == document.get("spec"):
            return False, None
        return True, self._judge(name, document, derived=True)

    def reject_derived(self, name: str, document: dict[str, Any], error: str) -> None:
        """A derived profile that could not even be built: the previous one stays in force."""
        entry = self._entries.get(name)
        self._entries[name] = ProfileEntry(document, entry.valid if entry else None, error, derived=True)

    def rejudge_references(self) -> tuple[bool, list[ECIProfile]]:
        """The VSwitches changed: judge every ECIProfile with vSwitchIds again (changed?, newly valid)."""
        changed, valid = False, []
        for name, entry in list(self._entries.items()):
            if entry.derived or not (entry.body.get("spec") or {}).get("vSwitchIds"):
                continue
            before = (entry.valid, entry.error)
            profile = self._judge(name, entry.body)
            after = self._entries[name]
            if profile is not None:
                valid.append(profile)
            changed = changed or before != (after.valid, after.error)
        return changed, valid

    def _judge(self, name: str, body: dict[str, Any], *, derived: bool = False) -> ECIProfile | None:
        """Record ``body``; it takes effect if it validates, else the last valid version stays."""
        entry = self._entries.get(name)
        previous = entry.valid if entry else None
        try:
            expanded = {**body, "spec": expand_references(body.get("spec") or {}, self.inventory)}
        except DomainError as error:
            self._entries[name] = ProfileEntry(body, previous, str(error), derived)
            return None
        try:
            profile = ECIProfile.model_validate(expanded)
        except ValidationError as exc:
            # (a derived profile's reader wants field-level messages, in an Event; an ECIProfile's
            # condition keeps pydantic's own text)
            errors = (
                "; ".join(str(e) for e in from_validation_error(exc))
                if derived
                else str(exc).replace("\n", " ")
            )
            self._entries[name] = ProfileEntry(body, previous, errors, derived)
            return None
        problems = validate_profile(profile.spec)
        if problems:
            self._entries[name] = ProfileEntry(body, previous, "; ".join(str(p) for p in problems), derived)
            return None
        self._entries[name] = ProfileEntry(body, profile, None, derived)
        return profile  # (its spec.vSwitches include the resolved references)

    def update_body(self, body: dict[str, Any]) -> None:
        """The answer of our own status write."""
        entry = self._entries.get(str(meta_of(body).get("name")))
        if entry is not None:
            entry.body = body

    def delete(self, name: str) -> bool:
        return self._entries.pop(name, None) is not None
