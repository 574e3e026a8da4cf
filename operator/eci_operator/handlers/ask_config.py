"""ASK's own configuration, live: the ``kube-system/eci-profile`` ConfigMap and the VSwitch inventory.

The ConfigMap names vSwitch ids only; their zones and CIDRs come from the VSwitch objects. Together they
make one effective profile, kept in the ``ProfileCache`` under ``PROFILE_NAME`` and served exactly as an
ECIProfile is (one code path: ``domain.configmap`` converts, the cache validates, the node controller
serves). The operator only reads the ConfigMap: Events on it are its only output. A bad edit does not take
effect (the previous configuration keeps serving) and gets a Warning Event naming the key, the value and
what is allowed; unmodelled keys are reported once, as ignored.
"""

from __future__ import annotations

from typing import Any

import structlog

from eci_operator.domain import vswitches as inventory
from eci_operator.domain.bodies import meta_of, uid_of
from eci_operator.domain.configmap import (
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    KNOWN_IGNORED_KEYS,
    configmap_to_profile,
)
from eci_operator.domain.errors import DomainError
from eci_operator.handlers.profiles import ProfileCache
from eci_operator.handlers.store import Body
from eci_operator.kube.events import EventPoster, EventSpec
from eci_operator.models.profile import ECIProfile
from eci_operator.models.vswitch import VSwitchObject

log = structlog.get_logger("eci_operator.ask_config")
# The effective profile's name (node label eci.ask.dev/profile, ContainerGroup spec.profile).
PROFILE_NAME = f"{CONFIGMAP_NAMESPACE}.{CONFIGMAP_NAME}"
SOURCE = f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}"


class AskConfig:
    def __init__(self, profiles: ProfileCache, events: EventPoster) -> None:
        self.profiles = profiles
        self.events = events
        self.configmap: Body | None = None
        self.vswitches: dict[str, Body] = {}  # VSwitch bodies by name (status included)
        self.overlapping: dict[str, str] = {}  # VSwitch name -> why it does not serve
        self.invalid: dict[str, str] = {}  # VSwitch name -> why its body does not validate
        self._reported: set[tuple[str, str]] = set()  # (ConfigMap uid, message) already posted

    # ------------------------------------------------------------------------------------------ inputs
    def on_configmap(self, kind: str, body: Body) -> bool:
        """Take a watch event of the ConfigMap; True if the effective profile may have changed."""
        self.configmap = None if kind == "DELETED" else body
        return True

    def on_vswitch(self, kind: str, body: Body) -> bool:
        """Take a watch event of a VSwitch; True if its spec (not just its status) changed."""
        name = str(meta_of(body).get("name"))
        old = self.vswitches.pop(name, None)
        if kind != "DELETED":
            self.vswitches[name] = body
        return kind == "DELETED" or old is None or old.get("spec") != body.get("spec")

    def parsed(self) -> list[VSwitchObject]:
        """The VSwitch objects that validate (the CRD refuses the rest, normally)."""
        out, self.invalid = [], {}
        for name, body in sorted(self.vswitches.items()):
            vswitch, error = inventory.parse(body)
            if vswitch is None:
                self.invalid[name] = error or "invalid"
            else:
                out.append(vswitch)
        return out

    # --------------------------------------------------------------------------------------- decision
    def evaluate(self) -> tuple[bool, ECIProfile | None]:
        """Rebuild the effective profile: (did it change?, the newly valid profile if one took effect)."""
        vswitches = self.parsed()
        self.overlapping = inventory.overlaps(vswitches)
        self.profiles.inventory = inventory.known(vswitches, self.overlapping)  # (ECIProfiles' vSwitchIds)
        if self.configmap is None:
            gone = self.profiles.delete(PROFILE_NAME)
            if gone:
                log.info("ask_config.removed", configmap=SOURCE)
            return gone, None
        data = self.configmap.get("data") or {}
        meta = meta_of(self.configmap)
        try:
            document, ignored = configmap_to_profile(
                data,
                vswitches=self.profiles.inventory,
                region=None,
                name=PROFILE_NAME,
                source=SOURCE,
                annotations=meta.get("annotations") or {},
            )
        except DomainError as error:
            return self._reject({"spec": {"unbuilt": dict(data)}}, str(error))
        document["metadata"]["creationTimestamp"] = meta.get("creationTimestamp")
        self._report_ignored(ignored)
        changed, profile = self.profiles.put_derived(PROFILE_NAME, document)
        entry = self.profiles.entry(PROFILE_NAME)
        if entry is not None and entry.error:
            if changed:
                self._warn("InvalidConfiguration", self._kept(entry.error))
            return changed, None
        if changed and profile is not None:
            zones = ", ".join(profile.spec.zone_ids)
            self._post("ConfigurationApplied", f"the eci-profile is in effect; zones: {zones}", once=False)
            log.info("ask_config.applied", zones=zones, vswitches=[v.id for v in profile.spec.vswitches])
        return changed, profile

    def _reject(self, document: dict[str, Any], error: str) -> tuple[bool, None]:
        entry = self.profiles.entry(PROFILE_NAME)
        changed = entry is None or entry.error != error
        self.profiles.reject_derived(PROFILE_NAME, document, error)
        if changed:
            self._warn("InvalidConfiguration", self._kept(error))
        return changed, None

    def _kept(self, error: str) -> str:
        serving = self.profiles.get(PROFILE_NAME) is not None
        tail = "the previous configuration keeps serving" if serving else "no configuration is in effect yet"
        return f"the edit does not take effect ({tail}): {error}"

    def _report_ignored(self, keys: list[str]) -> None:
        if not keys:
            return
        described = ", ".join(
            f"{k} ({'not modelled by the emulator' if k in KNOWN_IGNORED_KEYS else 'unknown key'})"
            for k in keys
        )
        self._post("IgnoredKeys", f"keys accepted and ignored: {described}")

    def _warn(self, reason: str, message: str) -> None:
        log.warning("ask_config.invalid", configmap=SOURCE, error=message)
        self._post(reason, message, warning=True, once=False)

    def _post(self, reason: str, message: str, *, warning: bool = False, once: bool = True) -> None:
        """An Event on the ConfigMap; ``once``: one per distinct message for this ConfigMap."""
        if self.configmap is None:
            return
        uid = uid_of(self.configmap)
        if once and (uid, message) in self._reported:
            return
        self._reported.add((uid, message))
        self.events.post(
            EventSpec(
                namespace=CONFIGMAP_NAMESPACE,
                name=CONFIGMAP_NAME,
                uid=uid,
                kind="ConfigMap",
                reason=reason,
                message=message,
                warning=warning,
            )
        )
