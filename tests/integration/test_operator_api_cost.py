"""The happy path costs 2 writes per pod, counted by the operator itself and read from its /metrics.

The ContainerGroup is created once with its status, then ``pods/status`` is patched (issue #18): a change that
makes a pod cost more writes fails here.
"""

from __future__ import annotations

from typing import Any

from cluster_helpers import virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, scrape, wait_for

N = 20


def writes(metrics: dict[Any, float], verb: str, resource: str) -> float:
    return sum(
        v
        for (name, labels), v in metrics.items()
        if name == "eci_operator_api_requests_total"
        and dict(labels).get("verb") == verb
        and dict(labels).get("resource") == resource
    )


async def test_two_writes_per_pod_on_the_happy_path(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    before = scrape(operator_process.metrics_port)
    for i in range(N):
        await core.create_namespaced_pod(namespace, virtual_pod(f"cheap-{i}", nodeSelector=selector))

    async def all_running() -> bool:
        pods = (await core.list_namespaced_pod(namespace)).items
        return len(pods) == N and all(p.status.phase == "Running" for p in pods)

    await wait_for(all_running, 60, what=f"{N} Running pods")
    after = scrape(operator_process.metrics_port)

    def delta(verb: str, resource: str) -> float:
        return writes(after, verb, resource) - writes(before, verb, resource)

    assert delta("create", "containergroups") == N  # with its status: no status subresource
    assert delta("patch", "containergroups/status") == 0
    assert delta("patch", "containergroups") == 0
    assert delta("patch", "pods/status") == N
    assert delta("patch", "pods") == 0
    assert delta("update", "pods") == 0
    pod_path = ("pods", "pods/status", "containergroups", "containergroups/status")
    # (deletes apart: the operator also cleans up what earlier tests left, e.g. orphaned groups)
    total = sum(delta(verb, r) for verb in ("create", "update", "patch") for r in pod_path)
    assert total == 2 * N

    # the record carries the IP the pod shows (what a restarted operator adopts)
    groups = await client.CustomObjectsApi(api).list_namespaced_custom_object(
        "eci.ask.dev", "v1alpha1", namespace, "containergroups"
    )
    ips = {g["metadata"]["name"]: g["status"]["ip"] for g in groups["items"]}
    pods = (await core.list_namespaced_pod(namespace)).items
    assert {p.metadata.name: p.status.pod_ip for p in pods} == ips

    # One Event per pod on the happy path, and never a false "annotation edited" warning caused by the
    # operator's own write-back of eci-vswitch / eci-security-group.
    events = (await core.list_namespaced_event(namespace)).items
    assert not [e for e in events if e.reason == "AnnotationIgnored"]
