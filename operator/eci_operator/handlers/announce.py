"""What the operator tells people about a pod: ECI's Events, and the notice that edits are ignored.

One Event per meaningful change of a group (created, waiting for stock, spot notice, OOM kill, failure),
never one per internal step. Events are posted off the critical path (``kube.events``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import structlog

from eci_operator.handlers.state import Body, State
from eci_operator.kube.events import EventSpec
from eci_operator.models.containergroup import ContainerGroupPhase, ContainerGroupStatus
from eci_operator.runtime.protocol import Key

log = structlog.get_logger("eci_operator.pods")
P = ContainerGroupPhase
INPUT_HASH = "eci.ask.dev/input-annotations"
WRITE_BACK = frozenset(
    "k8s.aliyun.com/" + k
    for k in (
        "eci-instance-id",
        "eci-instance-spec",
        "eci-instance-cpu",
        "eci-instance-mem",
        "eci-instance-zone",
        "eci-request-id",
        # Inputs that ECI also writes back (the one vSwitch and security group it used): the write-back
        # would look like an edit, so edits of these two are not reported (our rule, see README).
        "eci-vswitch",
        "eci-security-group",
    )
)
WARNING_REASONS = {
    "NoStock": "NoStock",
    "SpotToBeReleased": "SpotToBeReleased",
    "OOMKilled": "OOMKilled",
    "ErrImagePull": "ErrImagePull",
    "ImagePullBackOff": "ImagePullBackOff",
    "InvalidImageName": "InvalidImageName",
    "CreateContainerError": "CreateContainerError",
}


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def input_hash(pod: Mapping[str, Any]) -> str:
    annotations = _meta(pod).get("annotations") or {}
    inputs = {
        k: v
        for k, v in annotations.items()
        if k.startswith(("eci.ask.dev/", "k8s.aliyun.com/eci-")) and k not in WRITE_BACK and k != INPUT_HASH
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def pod_event(pod: Mapping[str, Any], reason: str, message: str, *, warning: bool = False) -> EventSpec:
    meta = _meta(pod)
    return EventSpec(
        namespace=str(meta.get("namespace")),
        name=str(meta.get("name")),
        uid=str(meta.get("uid")),
        kind="Pod",
        reason=reason,
        message=message,
        warning=warning,
    )


def check_edits(state: State, key: Key, pod: Body, group_body: Body) -> None:
    """An ECI annotation edited after creation is ignored, as ECI does, with one Warning to say so."""
    recorded = (_meta(group_body).get("annotations") or {}).get(INPUT_HASH)
    if recorded is None or recorded == input_hash(pod) or key in state.warned_edits:
        return
    state.warned_edits.add(key)
    state.events.post(
        pod_event(
            pod,
            "AnnotationIgnored",
            "ECI annotations changed after the pod was created are ignored: ECI reads them only at creation; "
            "recreate the pod to apply them",
            warning=True,
        )
    )


def announce(state: State, pod: Body, before: ContainerGroupStatus, after: ContainerGroupStatus) -> None:
    """Log the change and post ECI's Event for it, if it is one people should see."""
    if (before.phase, before.reason) == (after.phase, after.reason):
        return
    meta = _meta(pod)
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
    if after.phase == P.RUNNING and before.phase not in (P.RUNNING, P.RESTARTING):
        state.events.post(
            pod_event(
                pod,
                "ContainerInstanceCreated",
                f"Created ECI instance {after.instance_id} ({after.instance_spec}) in zone {after.zone_id}, "
                f"vSwitch {after.vswitch_id}, IP {after.ip}",
            )
        )
    elif after.phase in (P.FAILED, P.SCHEDULE_FAILED, P.EXPIRED):
        reason = "ProviderFailed" if after.phase == P.SCHEDULE_FAILED else (after.reason or "Failed")
        state.events.post(pod_event(pod, reason, after.message or "", warning=after.reason != "Completed"))
    elif after.reason in WARNING_REASONS:
        state.events.post(pod_event(pod, WARNING_REASONS[after.reason], after.message or "", warning=True))
