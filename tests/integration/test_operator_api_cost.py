"""The happy path costs 3 writes per pod, counted by the operator itself and read from its /metrics."""

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


async def test_three_writes_per_pod_on_the_happy_path(
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

    assert delta("create", "containergroups") == N
    assert delta("patch", "containergroups/status") == N
    assert delta("patch", "pods/status") == N
    assert delta("patch", "pods") == 0
    assert delta("update", "pods") == 0

    # One Event per pod on the happy path, and never a false "annotation edited" warning caused by the
    # operator's own write-back of eci-vswitch / eci-security-group.
    events = (await core.list_namespaced_event(namespace)).items
    assert not [e for e in events if e.reason == "AnnotationIgnored"]
