"""Pod status like a kubelet, from a ContainerGroup's state; nothing written when nothing changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eci_operator.domain.podstatus import (
    desired_pod_status,
    pending_status,
    pod_phase,
    status_patch,
    write_back_annotations,
)
from eci_operator.models.containergroup import (
    ContainerGroupPhase,
    ContainerGroupStatus,
    ContainerState,
    ContainerStatus,
)

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=30)


def pod(status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "annotations": annotations or {}},
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx:1.27"}],
        },
        "status": status or {"phase": "Pending"},
    }


def running() -> ContainerGroupStatus:
    return ContainerGroupStatus(
        phase=ContainerGroupPhase.RUNNING,
        instance_id="eci-abc",
        instance_spec="ecs.g7.xlarge",
        vcpu=4,
        memory_gib=16,
        zone_id="cn-hangzhou-i",
        vswitch_id="vsw-a",
        security_group_id="sg-a",
        ip="10.0.0.4",
        scheduled_at=T0,
        started_at=T0,
        containers=[
            ContainerStatus(
                name="init",
                init=True,
                state=ContainerState.TERMINATED,
                reason="Completed",
                exit_code=0,
                started_at=T0,
                finished_at=T0,
            ),
            ContainerStatus(name="app", state=ContainerState.RUNNING, started_at=T0),
        ],
    )


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (None, "Pending"),
        (ContainerGroupPhase.SCHEDULING, "Pending"),
        (ContainerGroupPhase.PENDING, "Pending"),
        (ContainerGroupPhase.RUNNING, "Running"),
        (ContainerGroupPhase.RESTARTING, "Pending"),  # ECI's lifecycle page
        (ContainerGroupPhase.UPDATING, "Pending"),
        (ContainerGroupPhase.TERMINATING, "Running"),
        (ContainerGroupPhase.SUCCEEDED, "Succeeded"),
        (ContainerGroupPhase.FAILED, "Failed"),
        (ContainerGroupPhase.SCHEDULE_FAILED, "Failed"),
        (ContainerGroupPhase.EXPIRED, "Failed"),
    ],
)
def test_phase_mapping(phase: ContainerGroupPhase | None, expected: str) -> None:
    assert pod_phase(phase) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(None, "Pending"), ("Always", "Pending"), ("OnFailure", "Pending"), ("Never", "Failed")],
)
def test_a_max_pending_timeout_leaves_the_pod_phase_to_the_restart_policy(
    policy: str | None, expected: str
) -> None:
    assert pod_phase(ContainerGroupPhase.FAILED, "PendingTimeout", policy) == expected


def test_running_pod_status_and_write_back_annotations() -> None:
    status, annotations = desired_pod_status(pod(), running(), T1)
    assert status["phase"] == "Running"
    assert status["podIP"] == status["hostIP"] == "10.0.0.4"
    assert status["podIPs"] == [{"ip": "10.0.0.4"}]
    assert status["startTime"] == "2026-01-01T12:00:00Z"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True",
        "ContainerInstanceCreated": "True",
        "SandboxReady": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    app = status["containerStatuses"][0]
    assert app["ready"]
    assert app["started"]
    assert app["state"] == {"running": {"startedAt": "2026-01-01T12:00:00Z"}}
    assert app["containerID"].startswith("containerd://")
    assert app["imageID"].startswith("nginx:1.27@sha256:")
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert annotations == {
        "k8s.aliyun.com/eci-instance-id": "eci-abc",
        "k8s.aliyun.com/eci-instance-spec": "ecs.g7.xlarge",
        "k8s.aliyun.com/eci-instance-cpu": "4.000",  # an ECS type, as a real pod shows it (eci.md section 2)
        "k8s.aliyun.com/eci-instance-mem": "16.00",
        "k8s.aliyun.com/eci-instance-zone": "cn-hangzhou-i",
        "k8s.aliyun.com/eci-vswitch": "vsw-a",
        "k8s.aliyun.com/eci-security-group": "sg-a",
    }


@pytest.mark.parametrize(
    ("spec", "vcpu", "memory", "cpu_text", "mem_text"),
    [
        ("0.25-0.5Gi", 0.25, 0.5, "0.25", "0.5"),  # never "0.2"
        ("2.0-4.0Gi", 2, 4, "2.0", "4.0"),
        ("8.0-14.0Gi", 8, 14, "8.0", "14.0"),
        ("ecs.c5.large", 2, 4, "2.000", "4.00"),
        ("ecs.t5-c1m2.large", 2, 4, "2.000", "4.00"),
        ("ecs.gn6i-c4g1.xlarge", 4, 15, "4.000", "15.00"),
    ],
)
def test_write_back_cpu_and_memory_keep_the_spec_decimals(
    spec: str, vcpu: float, memory: float, cpu_text: str, mem_text: str
) -> None:
    status = running().model_copy(update={"instance_spec": spec, "vcpu": vcpu, "memory_gib": memory})
    annotations = write_back_annotations(status)
    assert annotations["k8s.aliyun.com/eci-instance-cpu"] == cpu_text
    assert annotations["k8s.aliyun.com/eci-instance-mem"] == mem_text


def test_unchanged_status_is_not_written_again_and_transition_times_are_kept() -> None:
    status, annotations = desired_pod_status(pod(), running(), T0)
    patch = status_patch(pod(), status, annotations)
    assert patch is not None
    written = pod(patch["status"], patch["metadata"]["annotations"])
    again, again_annotations = desired_pod_status(written, running(), T1)
    assert status_patch(written, again, again_annotations) is None
    # a NotReady blip from the node-lifecycle controller is re-asserted
    blip = pod(dict(patch["status"]), patch["metadata"]["annotations"])
    blip["status"]["conditions"] = [
        {**c, "status": "False"} if c["type"] == "Ready" else c for c in blip["status"]["conditions"]
    ]
    fixed = status_patch(blip, *desired_pod_status(blip, running(), T1))
    assert fixed is not None
    ready = next(c for c in fixed["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["lastTransitionTime"] == "2026-01-01T12:00:30Z"


def test_schedule_failed_fails_the_pod_with_the_reason() -> None:
    failed = ContainerGroupStatus(
        phase=ContainerGroupPhase.SCHEDULE_FAILED,
        reason="InvalidInput",
        message="k8s.aliyun.com/eci-use-specs: bad",
    )
    status, annotations = desired_pod_status(pod(), failed, T0)
    assert status["phase"] == "Failed"
    assert status["reason"] == "ProviderFailed"
    assert "eci-use-specs" in status["message"]
    created = next(c for c in status["conditions"] if c["type"] == "ContainerInstanceCreated")
    assert (created["status"], created["reason"]) == ("False", "InvalidInput")
    assert "podIP" not in status
    assert annotations == {}


def test_pending_with_reason() -> None:
    status = pending_status(pod(), "DaemonSetNotSupported", "not on ECI", T0)
    assert status["phase"] == "Pending"
    assert status["conditions"][1]["reason"] == "DaemonSetNotSupported"


def test_a_stale_reason_or_message_is_cleared_once() -> None:
    status, annotations = desired_pod_status(pod(), running(), T0)
    written = pod({**status, "message": "left by someone else"}, annotations)
    patch = status_patch(written, *desired_pod_status(written, running(), T1))
    assert patch is not None
    assert patch["status"]["message"] is None
    cleared = pod({k: v for k, v in patch["status"].items() if v is not None}, annotations)
    assert status_patch(cleared, *desired_pod_status(cleared, running(), T1)) is None


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_spot_notice_is_a_reason_of_container_instance_created() -> None:
    noticed = running().model_copy(
        update={"reason": "SpotToBeReleased", "message": "Spot ECI will be released in 3 minutes"}
    )
    status, _ = desired_pod_status(pod(), noticed, T1)
    created = _conditions(status)["ContainerInstanceCreated"]
    assert (created["status"], created["reason"], created["message"]) == (
        "True",
        "SpotToBeReleased",
        "Spot ECI will be released in 3 minutes",
    )
    assert status["phase"] == "Running"


def test_a_reclaimed_spot_pod_is_retained_failed_with_bid_failed() -> None:
    expired = running().model_copy(
        update={"phase": ContainerGroupPhase.EXPIRED, "reason": "BidFailed", "message": "reclaimed"}
    )
    status, _ = desired_pod_status(pod(), expired, T1)
    assert (status["phase"], status["reason"]) == ("Failed", "BidFailed")
    assert _conditions(status)["SandboxReady"]["reason"] == "SandboxTerminated"


@pytest.mark.parametrize(
    ("group", "sandbox", "reason"),
    [
        (ContainerGroupStatus(phase=ContainerGroupPhase.SCHEDULING), "False", "SandboxNotReady"),
        (
            ContainerGroupStatus(phase=ContainerGroupPhase.PENDING, reason="NoStock", message="out of stock"),
            "False",
            "SandboxNotReady",
        ),
        (running().model_copy(update={"phase": ContainerGroupPhase.PENDING}), "True", None),
        (running(), "True", None),
        (running().model_copy(update={"phase": ContainerGroupPhase.SUCCEEDED}), "False", "SandboxTerminated"),
    ],
)
def test_sandbox_ready_while_the_instance_exists_and_has_not_ended(
    group: ContainerGroupStatus, sandbox: str, reason: str | None
) -> None:
    status, _ = desired_pod_status(pod(), group, T1)
    cond = _conditions(status)["SandboxReady"]
    assert (cond["status"], cond.get("reason")) == (sandbox, reason)


@pytest.mark.parametrize(("policy", "phase"), [("Always", "Pending"), ("Never", "Failed")])
def test_a_pending_timeout_pod_follows_its_restart_policy(policy: str, phase: str) -> None:
    timed_out = running().model_copy(
        update={
            "phase": ContainerGroupPhase.FAILED,
            "reason": "PendingTimeout",
            "message": "stayed Pending",
            "containers": [ContainerStatus(name="app", state=ContainerState.WAITING, reason="ErrImagePull")],
        }
    )
    body = pod()
    body["spec"]["restartPolicy"] = policy
    status, _ = desired_pod_status(body, timed_out, T1)
    assert status["phase"] == phase
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == (
        "ErrImagePull" if phase == "Pending" else "PendingTimeout"
    )
