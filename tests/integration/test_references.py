"""Pods that reference missing Secrets and ConfigMaps behave as on a kubelet (and virtual-kubelet).

Real: the control plane, the operator as a process watching Secrets and ConfigMaps (names only). A
mandatory reference that is missing keeps the containers waiting with the kubelet's reason and message and
an Event; the pod starts once the object is created. An optional one only gets an Event.
"""

from __future__ import annotations

from typing import Any

from cluster_helpers import ProfileFactory, node_ready, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import wait_for


async def _ready_node(api: ApiClient, make_profile: ProfileFactory) -> None:
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 60, what=f"node {node} Ready")


async def _waiting(core: client.CoreV1Api, namespace: str, name: str) -> dict[str, Any] | None:
    pod = await core.read_namespaced_pod(name, namespace)
    statuses = pod.status.container_statuses or []
    if statuses and statuses[0].state.waiting:
        waiting = statuses[0].state.waiting
        return {"phase": pod.status.phase, "reason": waiting.reason, "message": waiting.message}
    return None


async def _reasons(core: client.CoreV1Api, namespace: str, name: str) -> set[str]:
    events = await core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return {e.reason for e in events.items}


async def _running(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    return bool((await core.read_namespaced_pod(name, namespace)).status.phase == "Running")


async def test_a_missing_secret_in_env_holds_the_pod_until_it_is_created(
    api: ApiClient, namespace: str, make_profile: ProfileFactory
) -> None:
    await _ready_node(api, make_profile)
    core = client.CoreV1Api(api)
    containers = [{"name": "c", "image": "nginx", "envFrom": [{"secretRef": {"name": "db"}}]}]
    await core.create_namespaced_pod(namespace, virtual_pod("needs-secret", containers=containers))
    waiting = await wait_for(lambda: _waiting(core, namespace, "needs-secret"), 30, what="the pod to wait")
    assert waiting == {
        "phase": "Pending",
        "reason": "CreateContainerConfigError",
        "message": 'secret "db" not found',
    }
    await wait_for(
        lambda: _has(core, namespace, "needs-secret", "MandatorySecretNotFound"), 30, what="the Warning Event"
    )
    secret = {"metadata": {"name": "db"}, "stringData": {"password": "x"}}
    await core.create_namespaced_secret(namespace, secret)
    await wait_for(lambda: _running(core, namespace, "needs-secret"), 30, what="the pod to start")


async def test_a_missing_configmap_volume_holds_the_pod_and_an_optional_one_does_not(
    api: ApiClient, namespace: str, make_profile: ProfileFactory
) -> None:
    await _ready_node(api, make_profile)
    core = client.CoreV1Api(api)
    volumes = [{"name": "files", "configMap": {"name": "cfg"}}]
    await core.create_namespaced_pod(namespace, virtual_pod("needs-cm", volumes=volumes))
    optional = [{"name": "files", "configMap": {"name": "absent", "optional": True}}]
    await core.create_namespaced_pod(namespace, virtual_pod("optional-cm", volumes=optional))
    waiting = await wait_for(lambda: _waiting(core, namespace, "needs-cm"), 30, what="the pod to wait")
    assert (waiting["phase"], waiting["reason"]) == ("Pending", "ContainerCreating")
    await wait_for(lambda: _has(core, namespace, "needs-cm", "FailedMount"), 30, what="FailedMount")
    assert "MandatoryConfigMapNotFound" in await _reasons(core, namespace, "needs-cm")
    await wait_for(lambda: _running(core, namespace, "optional-cm"), 30, what="the optional pod to run")
    await wait_for(
        lambda: _has(core, namespace, "optional-cm", "OptionalConfigMapNotFound"), 30, what="its Event"
    )
    await core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"a": "b"}})
    await wait_for(lambda: _running(core, namespace, "needs-cm"), 30, what="the pod to start")


async def _has(core: client.CoreV1Api, namespace: str, name: str, reason: str) -> bool:
    return reason in await _reasons(core, namespace, name)
