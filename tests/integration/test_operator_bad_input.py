"""Bad input fails the pod with a clear answer, and the operator keeps serving everything else."""

from __future__ import annotations

from typing import Any

import pytest
from cluster_helpers import GROUP, VERSION, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import wait_for

CASES = [
    pytest.param(
        {"annotations": {"k8s.aliyun.com/eci-use-specs": "65-5Gi"}},
        ["k8s.aliyun.com/eci-use-specs", "65-5Gi"],
        id="unsupported-spec",
    ),
    pytest.param(
        {"annotations": {"k8s.aliyun.com/eci-vswitch": "vsw-elsewhere"}},
        ["k8s.aliyun.com/eci-vswitch", "vsw-elsewhere"],
        id="vswitch-outside-profile",
    ),
    pytest.param(
        {"annotations": {"k8s.aliyun.com/eci-security-group": "sg-other"}},
        ["k8s.aliyun.com/eci-security-group", "sg-other"],
        id="security-group-outside-profile",
    ),
    pytest.param({"hostNetwork": True}, ["spec.hostNetwork"], id="host-network"),
    pytest.param(
        {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]},
        ["privileged"],
        id="privileged",
    ),
    pytest.param(
        {"annotations": {"eci.ask.dev/exit-after": "soon"}},
        ["eci.ask.dev/exit-after", "soon"],
        id="bad-lifecycle-annotation",
    ),
]


@pytest.mark.parametrize(("extra", "words"), CASES)
async def test_bad_input_fails_the_pod_with_a_named_reason(
    api: ApiClient, namespace: str, make_profile: Any, extra: dict[str, Any], words: list[str]
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    bad = virtual_pod("bad", nodeSelector=selector, **extra)
    bad["metadata"]["labels"] = {"eci.ask.dev/skip-admission": "true"}  # past the webhook: the binding path
    await core.create_namespaced_pod(namespace, bad)
    await core.create_namespaced_pod(namespace, virtual_pod("good", nodeSelector=selector))

    async def phase(name: str) -> str:
        return str((await core.read_namespaced_pod(name, namespace)).status.phase)

    await wait_for(lambda: _is(phase("bad"), "Failed"), 30, what="pod bad Failed")
    await wait_for(lambda: _is(phase("good"), "Running"), 30, what="pod good still Running")
    pod = await core.read_namespaced_pod("bad", namespace)
    assert pod.status.reason == "ProviderFailed"
    assert all(w in pod.status.message for w in words), pod.status.message
    group = await custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups", "bad")
    assert group["status"]["phase"] == "ScheduleFailed"
    assert all(w in group["status"]["message"] for w in words)

    async def warning_event() -> Any:
        events = (await core.list_namespaced_event(namespace, field_selector="involvedObject.name=bad")).items
        return next((e for e in events if e.type == "Warning" and e.reason == "ProviderFailed"), None)

    event = await wait_for(warning_event, 30, what="a Warning event on pod bad")
    assert all(w in event.message for w in words)


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)


async def test_daemonset_pods_stay_pending_with_a_reason(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    profile = await make_profile()
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"topology.kubernetes.io/zone": zone_of(profile)},
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{"name": "a", "image": "busybox"}],
                },
            },
        },
    }
    await apps.create_namespaced_daemon_set(namespace, ds)

    async def held() -> Any:
        pods = (await core.list_namespaced_pod(namespace, label_selector="app=agent")).items
        for pod in pods:
            for c in pod.status.conditions or []:
                if c.type == "ContainerInstanceCreated" and c.reason == "DaemonSetNotSupported":
                    return pod
        return None

    pod = await wait_for(held, 30, what="the DaemonSet pod held Pending with reason DaemonSetNotSupported")
    assert pod.status.phase == "Pending"
    await apps.delete_namespaced_daemon_set("agent", namespace)


async def test_annotation_edited_after_creation_is_ignored_with_an_event(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    pod = virtual_pod("edit", nodeSelector={"topology.kubernetes.io/zone": zone_of(profile)})
    await core.create_namespaced_pod(namespace, pod)

    async def running() -> Any:
        got = await core.read_namespaced_pod("edit", namespace)
        return got if got.status.phase == "Running" else None

    before = await wait_for(running, 30, what="pod edit Running")
    spec = before.metadata.annotations["k8s.aliyun.com/eci-instance-spec"]
    await core.patch_namespaced_pod(
        "edit", namespace, {"metadata": {"annotations": {"k8s.aliyun.com/eci-use-specs": "8-16Gi"}}}
    )

    async def ignored_event() -> Any:
        events = (
            await core.list_namespaced_event(namespace, field_selector="involvedObject.name=edit")
        ).items
        return next((e for e in events if e.reason == "AnnotationIgnored"), None)

    await wait_for(ignored_event, 30, what="an AnnotationIgnored event")
    after = await core.read_namespaced_pod("edit", namespace)
    assert after.metadata.annotations["k8s.aliyun.com/eci-instance-spec"] == spec
    assert after.status.phase == "Running"
