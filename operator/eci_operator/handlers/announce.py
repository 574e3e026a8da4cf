"""What the operator tells people about a pod: ECI's Events, and the notice that edits are ignored.

One Event per meaningful change of a group (created, waiting for stock, spot notice, OOM kill, failure),
never one per internal step; which Event a phase posts is in ``domain.phases``. Events are posted off the
critical path (``kube.events``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import structlog

from eci_operator.domain import phases
from eci_operator.domain.bodies import annotations_of, meta_of
from eci_operator.domain.pull_events import image_events
from eci_operator.handlers.store import Body, Key
from eci_operator.kube.events import EventPoster, EventSpec
from eci_operator.models import keys
from eci_operator.models.containergroup import ContainerGroupSpec, ContainerGroupStatus

log = structlog.get_logger("eci_operator.pods")
# Reasons that post a Warning of the same name while the group stays in its phase.
WARNING_REASONS = frozenset(
    {
        "NoStock",
        "IpExhausted",
        "Throttling",
        "SpotToBeReleased",
        "OOMKilled",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerError",
    }
)


def input_hash(pod: Mapping[str, Any]) -> str:
    """A digest of the pod's ECI input annotations (write-back names and our own left out)."""
    inputs = {
        k: v
        for k, v in annotations_of(pod).items()
        if k.startswith(("eci.ask.dev/", "k8s.aliyun.com/eci-"))
        and k not in keys.WRITE_BACK
        and k != keys.INPUT_HASH
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def pod_event(pod: Mapping[str, Any], reason: str, message: str, *, warning: bool = False) -> EventSpec:
    meta = meta_of(pod)
    return EventSpec(
        namespace=str(meta.get("namespace")),
        name=str(meta.get("name")),
        uid=str(meta.get("uid")),
        kind="Pod",
        reason=reason,
        message=message,
        warning=warning,
    )


class Announcer:
    def __init__(self, events: EventPoster) -> None:
        self.events = events
        self._warned_edits: set[Key] = set()

    def images(
        self, pod: Body, spec: ContainerGroupSpec, before: ContainerGroupStatus, after: ContainerGroupStatus
    ) -> None:
        """The kubelet-style image and container Events the change brings (``domain.pull_events``)."""
        for reason, message in image_events(spec, before, after):
            self.post(pod, reason, message)

    def post(self, pod: Body, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.post(pod_event(pod, reason, message, warning=warning))

    def forget(self, key: Key) -> None:
        self._warned_edits.discard(key)

    def check_edits(self, key: Key, pod: Body, group: Body) -> None:
        """An ECI annotation edited after creation is ignored, as ECI does, with one Warning to say so."""
        recorded = annotations_of(group).get(keys.INPUT_HASH)
        if recorded is None or recorded == input_hash(pod) or key in self._warned_edits:
            return
        self._warned_edits.add(key)
        self.post(
            pod,
            "AnnotationIgnored",
            "ECI annotations changed after the pod was created are ignored: ECI reads them only at creation; "
            "recreate the pod to apply them",
            warning=True,
        )

    def change(self, pod: Body, before: ContainerGroupStatus, after: ContainerGroupStatus) -> None:
        """Log the change and post ECI's Event for it, if it is one people should see."""
        if (before.phase, before.reason) == (after.phase, after.reason):
            return
        meta = meta_of(pod)
        log.info(
            "group.phase",
            pod=meta.get("name"),
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
            phase=after.phase,
            previous=before.phase,
            reason=after.reason,
            instance=after.instance_id,
            spec=after.instance_spec,
            zone=after.zone_id,
            ip=after.ip,
        )
        entered = phases.traits(after.phase) if after.phase != before.phase else None
        if (
            entered is not None
            and entered.event == keys.CONDITION_CREATED
            and before.phase not in phases.RUNNING
        ):
            self.post(
                pod,
                keys.CONDITION_CREATED,
                f"Created ECI instance {after.instance_id} ({after.instance_spec}) in zone {after.zone_id}, "
                f"vSwitch {after.vswitch_id}, IP {after.ip}",
            )
        terminal = phases.traits(after.phase)
        if terminal is not None and terminal.terminal:
            if terminal.event is not None:
                reason = terminal.event or after.reason or "Failed"
                self.post(pod, reason, after.message or "", warning=after.reason != "Completed")
            return
        # A warning reason may come with the phase change (a spot notice due at once, say): posted too.
        if after.reason in WARNING_REASONS and after.reason != before.reason:
            self.post(pod, after.reason, after.message or "", warning=True)
