"""What a kubelet would write into a pod, computed from its ContainerGroup's status.

``desired_pod_status`` returns the ``status`` and the ECI write-back annotations; ``status_patch`` compares
them with the pod as it is and returns a merge patch only when something differs (timestamps of conditions
that did not change are kept, so an unchanged state compares equal and is never written again). Pure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from eci_operator.domain import conditions
from eci_operator.domain.ecs_catalogue import is_ecs_name
from eci_operator.domain.kubetime import kube_time
from eci_operator.domain.phases import is_terminal, pod_phase
from eci_operator.domain.specs import format_amount
from eci_operator.models import keys
from eci_operator.models.containergroup import (
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
)

ANN = keys.ECI_PREFIX
CONDITION_CREATED = keys.CONDITION_CREATED
CONDITION_SANDBOX = keys.CONDITION_SANDBOX


def write_back_annotations(status: ContainerGroupStatus) -> dict[str, str]:
    """The annotations ECI writes onto a pod once its instance exists (none before).

    CPU and memory as a real pod shows them (eci.md section 2): a vCPU-memory spec keeps its own decimals
    (``"0.25"``, ``"2.0"``), an ECS type three and two decimals (``"2.000"``, ``"4.00"``).
    """
    if not status.instance_id:
        return {}
    vcpu, memory = Fraction(status.vcpu or 0), Fraction(status.memory_gib or 0)
    if is_ecs_name(status.instance_spec or ""):
        cpu_text, mem_text = f"{float(vcpu):.3f}", f"{float(memory):.2f}"
    else:
        cpu_text, mem_text = format_amount(vcpu), format_amount(memory)
    values = {
        "eci-instance-id": status.instance_id,
        "eci-instance-spec": status.instance_spec or "",
        "eci-instance-cpu": cpu_text,
        "eci-instance-mem": mem_text,
        "eci-instance-zone": status.zone_id or "",
        "eci-vswitch": status.vswitch_id or "",
        "eci-security-group": status.security_group_id or "",
    }
    return {ANN + k: v for k, v in values.items() if v}


def _existing_conditions(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return conditions.of(pod)


def _condition(
    existing: list[Mapping[str, Any]],
    kind: str,
    ok: bool,
    now: str,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """A pod condition: the shared builder, plus the ``lastProbeTime`` a kubelet writes (null)."""
    cond = conditions.condition(kind, ok, now, previous=existing, reason=reason, message=message)
    old = conditions.find(existing, kind) or {}
    return {**cond, "lastProbeTime": old.get("lastProbeTime")}


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _container_status(
    spec: Mapping[str, Any], status: ContainerGroupStatus, init: bool, phase: str
) -> dict[str, Any]:
    name = spec.get("name", "")
    image = spec.get("image", "")
    recorded = next((c for c in status.containers if c.name == name and c.init == init), None)
    out: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": recorded.restart_count if recorded else 0,
        "lastState": {},
    }
    if recorded is None or recorded.state in (None, ContainerState.WAITING):
        reason = (recorded.reason if recorded else None) or (
            "PodInitializing" if init else "ContainerCreating"
        )
        if phase == "Failed":
            reason = status.reason or "ProviderFailed"
        out["state"] = {"waiting": {"reason": reason}}
        return out
    out["imageID"] = image if "@sha256:" in image else f"{image}@sha256:{_digest(image)}"
    out["containerID"] = "containerd://" + _digest(status.instance_id or "", name, str(out["restartCount"]))
    if recorded.state == ContainerState.RUNNING:
        out["state"] = {"running": {"startedAt": kube_time(recorded.started_at)}}
        out["ready"] = out["started"] = not init
        return out
    terminated: dict[str, Any] = {
        "exitCode": recorded.exit_code or 0,
        "reason": recorded.reason or ("Completed" if not recorded.exit_code else "Error"),
        "startedAt": kube_time(recorded.started_at),
        "finishedAt": kube_time(recorded.finished_at),
        "containerID": out["containerID"],
    }
    out["state"] = {"terminated": terminated}
    return out


def _created_condition(
    existing: list[Mapping[str, Any]], status: ContainerGroupStatus, created: bool, stamp: str
) -> dict[str, Any]:
    """ECI's ``ContainerInstanceCreated``: True once the instance exists; a spot notice is its reason."""
    if created and status.reason == keys.SPOT_TO_BE_RELEASED:
        return _condition(
            existing, CONDITION_CREATED, True, stamp, keys.SPOT_TO_BE_RELEASED, status.message or ""
        )
    if created:
        message = f"instance {status.instance_id} created"
        return _condition(existing, CONDITION_CREATED, True, stamp, "Created", message)
    return _condition(
        existing,
        CONDITION_CREATED,
        False,
        stamp,
        status.reason or "Creating",
        status.message or "creating the container instance",
    )


def _sandbox_condition(
    existing: list[Mapping[str, Any]], status: ContainerGroupStatus, created: bool, stamp: str
) -> dict[str, Any]:
    """ECI's ``SandboxReady``: True while the instance's sandbox runs (created, not yet over)."""
    if created and not is_terminal(status.phase):
        return _condition(existing, CONDITION_SANDBOX, True, stamp)
    if created:
        message = f"instance {status.instance_id} is {status.phase}"
        return _condition(existing, CONDITION_SANDBOX, False, stamp, "SandboxTerminated", message)
    return _condition(
        existing, CONDITION_SANDBOX, False, stamp, "SandboxNotReady", "the instance is not created yet"
    )


def desired_pod_status(
    pod: Mapping[str, Any], status: ContainerGroupStatus, now: dt.datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """The pod ``status`` and ECI write-back annotations for the group state ``status``."""
    stamp = kube_time(now) or ""
    spec = pod.get("spec") or {}
    existing = _existing_conditions(pod)
    phase = pod_phase(status.phase, status.reason, spec.get("restartPolicy"))
    containers = [_container_status(c, status, False, phase) for c in spec.get("containers") or []]
    inits = [_container_status(c, status, True, phase) for c in spec.get("initContainers") or []]
    created = status.instance_id is not None and status.phase not in (
        ContainerGroupPhase.SCHEDULE_FAILED,
        ContainerGroupPhase.SCHEDULING,
    )
    running = phase == "Running"
    all_ready = running and all(c["ready"] for c in containers)
    initialized = status.started_at is not None or not inits
    terminal = phase in ("Succeeded", "Failed")
    created_cond = _created_condition(existing, status, created, stamp)
    not_ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    conditions = [
        _condition(existing, "PodScheduled", True, stamp),
        created_cond,
        _sandbox_condition(existing, status, created, stamp),
        _condition(
            existing, "Initialized", initialized, stamp, "" if initialized else "ContainersNotInitialized"
        ),
        _condition(existing, "ContainersReady", all_ready, stamp, "" if all_ready else not_ready_reason),
        _condition(existing, "Ready", all_ready, stamp, "" if all_ready else not_ready_reason),
    ]
    body: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "containerStatuses": containers,
        "startTime": kube_time(status.scheduled_at) or (pod.get("status") or {}).get("startTime") or stamp,
    }
    if inits:
        body["initContainerStatuses"] = inits
    if status.ip and created:
        body["podIP"] = body["hostIP"] = status.ip
        body["podIPs"] = body["hostIPs"] = [{"ip": status.ip}]
    if phase == "Failed":
        body["reason"] = (
            "ProviderFailed"
            if status.phase == ContainerGroupPhase.SCHEDULE_FAILED
            else (status.reason or "Failed")
        )
        body["message"] = status.message or ""
    return body, write_back_annotations(status)


def pending_status(pod: Mapping[str, Any], reason: str, message: str, now: dt.datetime) -> dict[str, Any]:
    """A pod the operator will not run (e.g. a DaemonSet pod): Pending, with the reason on the condition."""
    stamp = kube_time(now) or ""
    existing = _existing_conditions(pod)
    return {
        "phase": "Pending",
        "conditions": [
            _condition(existing, "PodScheduled", True, stamp),
            _condition(existing, CONDITION_CREATED, False, stamp, reason, message),
        ],
    }


_COMPARED = (
    "phase",
    "conditions",
    "containerStatuses",
    "initContainerStatuses",
    "podIP",
    "podIPs",
    "hostIP",
    "hostIPs",
    "startTime",
    "reason",
    "message",
)


def _normal(conditions: Any) -> Any:
    if not isinstance(conditions, list):
        return conditions
    return sorted(
        ({k: v for k, v in c.items() if v is not None} for c in conditions), key=lambda c: str(c.get("type"))
    )


def status_patch(
    pod: Mapping[str, Any], status: Mapping[str, Any], annotations: Mapping[str, str]
) -> dict[str, Any] | None:
    """A merge patch for ``pods/status`` carrying status and annotations, or None if nothing changed."""
    have = pod.get("status") or {}
    have_ann = (pod.get("metadata") or {}).get("annotations") or {}
    changed = any(
        _normal(have.get(k)) != _normal(status.get(k))
        for k in _COMPARED
        if k in status or k in ("reason", "message")  # a stale reason is cleared
    )
    missing_ann = {k: v for k, v in annotations.items() if have_ann.get(k) != v}
    if not changed and not missing_ann:
        return None
    patch: dict[str, Any] = {"status": dict(status)}
    for stale in ("reason", "message"):
        if stale not in status and stale in have:
            patch["status"][stale] = None
    if missing_ann:
        patch["metadata"] = {"annotations": missing_ann}
    return patch
