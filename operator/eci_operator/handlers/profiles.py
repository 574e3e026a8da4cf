"""The ECIProfiles the operator knows: per name, the latest body and the last valid spec, or why not.

One record per name instead of parallel dicts kept in step by hand. As ASK with a malformed eci-profile, a
spec that does not validate does not take effect: the last valid one stays in force, and the reason is
kept for the profile's ``Valid`` condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from eci_operator.domain.bodies import meta_of
from eci_operator.domain.profiles import validate_profile
from eci_operator.models.profile import ECIProfile


@dataclass
class ProfileEntry:
    body: dict[str, Any]  # the latest body seen (its status too)
    valid: ECIProfile | None  # the last valid version, in force
    error: str | None  # why the latest spec does not take effect


class ProfileCache:
    def __init__(self) -> None:
        self._entries: dict[str, ProfileEntry] = {}

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
        previous = entry.valid if entry else None
        try:
            profile = ECIProfile.model_validate(body)
        except ValidationError as exc:
            self._entries[name] = ProfileEntry(body, previous, str(exc).replace("\n", " "))
            return True, None
        problems = validate_profile(profile.spec)
        if problems:
            self._entries[name] = ProfileEntry(body, previous, "; ".join(str(p) for p in problems))
            return True, None
        self._entries[name] = ProfileEntry(body, profile, None)
        return True, profile

    def update_body(self, body: dict[str, Any]) -> None:
        """The answer of our own status write."""
        entry = self._entries.get(str(meta_of(body).get("name")))
        if entry is not None:
            entry.body = body

    def delete(self, name: str) -> bool:
        return self._entries.pop(name, None) is not None
