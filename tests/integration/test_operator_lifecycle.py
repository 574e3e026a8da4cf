"""Operator restarts, node leases, zone ownership and node retirement, on the real control plane."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cluster_helpers import GROUP, VERSION, node_ready, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, wait_for


async def test_restart_midway_through_200_pods(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    profile = await make_profile()
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "many"},
        "spec": {
            "replicas": 200,
            "selector": {"matchLabels": {"app": "many"}},
            "template": {
                "metadata": {"labels": {"app": "many"}},
                "spec": {
                    "nodeSelector": {"topology.kubernetes.io/zone": zone_of(profile)},
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                    "containers": [{"name": "app", "image": "nginx"}],
                },
            },
        },
    }
    await apps.create_namespaced_deployment(namespace, body)

    async def some_running() -> bool:
        pods = (await core.list_namespaced_pod(namespace)).items
        return sum(p.status.phase == "Running" for p in pods) >= 20

    await wait_for(some_running, 60, what="the first Running pods")
    operator_process.kill()  # SIGKILL mid-way: no clean shutdown
    operator_process.start()

    async def all_running() -> list[Any] | None:
        pods = (await core.list_namespaced_pod(namespace)).items
        return pods if len(pods) == 200 and all(p.status.phase == "Running" for p in pods) else None

    pods = await wait_for(all_running, 120, what="200 Running pods after the restart")
    groups = (await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups"))[
        "items"
    ]
    by_name = {g["metadata"]["name"]: g for g in groups}
    assert len(groups) == 200
    for pod in pods:
        group = by_name[pod.metadata.name]
        assert group["spec"]["podUid"] == pod.metadata.uid
        assert group["status"]["ip"] == pod.status.pod_ip
        assert group["status"]["instanceId"] == pod.metadata.annotations["k8s.aliyun.com/eci-instance-id"]
    ips = [p.status.pod_ip for p in pods]
    assert len(set(ips)) == 200, "an IP was assigned twice"
    stuck = [p.metadata.name for p in pods if p.metadata.deletion_timestamp]
    assert not stuck


async def test_nodes_stay_ready_for_two_minutes(api: ApiClient, make_profile: Any) -> None:
    """Lease renewal keeps the node-lifecycle controller from marking virtual nodes NotReady."""
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    coordination = client.CoordinationV1Api(api)
    await wait_for(lambda: node_ready(api, node), 30, what=f"node {node} Ready")
    start = dt.datetime.now(dt.UTC)
    renewals: set[Any] = set()

    async def watched_two_minutes() -> bool:
        assert await node_ready(api, node), f"node {node} became NotReady"
        lease = await coordination.read_namespaced_lease(node, "kube-node-lease")
        renewals.add(lease.spec.renew_time)
        return dt.datetime.now(dt.UTC) - start > dt.timedelta(minutes=2)

    await wait_for(watched_two_minutes, 150, what="2 minutes of a Ready node", interval=2)
    assert len(renewals) >= 10, f"lease renewed only {len(renewals)} times in 2 minutes"


async def test_zone_claimed_twice_goes_to_the_older_profile(api: ApiClient, make_profile: Any) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    first = await make_profile()
    duplicate = [{"id": "vsw-dup", "zoneId": zone_of(first), "cidr": "10.9.0.0/16"}]
    second = await make_profile(  # past the webhook (which refuses it): the operator's own conflict rule
        vSwitches=duplicate, regionId=first["spec"]["regionId"], labels={"eci.ask.dev/skip-admission": "true"}
    )

    async def conflict_reported() -> dict[str, Any] | None:
        got = await custom.get_cluster_custom_object(
            GROUP, VERSION, "eciprofiles", second["metadata"]["name"]
        )
        conditions = {c["type"]: c for c in got.get("status", {}).get("conditions", [])}
        c = conditions.get("ZoneConflict")
        return c if c and c["status"] == "True" else None

    condition = await wait_for(conflict_reported, 30, what="a ZoneConflict condition on the later profile")
    assert zone_of(first) in condition["message"]
    assert first["metadata"]["name"] in condition["message"]
    node = await core.read_node(f"virtual-kubelet-{zone_of(first)}")
    assert node.metadata.labels["eci.ask.dev/profile"] == first["metadata"]["name"]


async def test_removed_zone_is_cordoned_then_deleted_when_empty(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    profile = await make_profile(zones=2)
    zone_b = zone_of(profile, 1)
    node_b = f"virtual-kubelet-{zone_b}"
    await wait_for(lambda: node_ready(api, node_b), 30, what=f"node {node_b} Ready")
    pod = virtual_pod("holder", nodeSelector={"topology.kubernetes.io/zone": zone_b})
    await core.create_namespaced_pod(namespace, pod)

    async def holder_running() -> bool:
        return bool((await core.read_namespaced_pod("holder", namespace)).status.phase == "Running")

    await wait_for(holder_running, 30, what="pod holder Running in zone b")
    await custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        profile["metadata"]["name"],
        {"spec": {"vSwitches": profile["spec"]["vSwitches"][:1]}},
        _content_type="application/merge-patch+json",
    )

    async def cordoned() -> bool:
        return bool((await core.read_node(node_b)).spec.unschedulable)

    await wait_for(cordoned, 30, what=f"node {node_b} cordoned")
    assert (await core.read_namespaced_pod("holder", namespace)).status.phase == "Running"
    await core.delete_namespaced_pod("holder", namespace)

    async def node_gone() -> bool:
        names = {n.metadata.name for n in (await core.list_node()).items}
        return node_b not in names

    await wait_for(node_gone, 30, what=f"node {node_b} deleted once empty")
