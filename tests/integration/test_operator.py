"""The operator on the real control plane: virtual nodes, pods to ContainerGroups, status, deletion."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from cluster_helpers import ANN, GROUP, VERSION, node_ready, virtual_deployment, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import node_network_env, wait_for


def deployment(
    name: str,
    replicas: int,
    *,
    cpu: str | None = None,
    annotations: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    app = [{"name": "app", "image": "nginx:1.27", "resources": resources}]
    return virtual_deployment(
        name, replicas, annotations=annotations, node_selector=node_selector, containers=app
    )


async def running_pods(core: client.CoreV1Api, namespace: str, app: str) -> list[Any]:
    pods = (await core.list_namespaced_pod(namespace, label_selector=f"app={app}")).items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


async def test_ask_console_demo(api: ApiClient, namespace: str, make_profile: Any, kubeconfig: Path) -> None:
    """ASK's console demo, replayed: one vSwitch → one node; 2 CPU → 2.0-1.0Gi; ecs.g7.xlarge; a 2nd zone."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    profile = await make_profile(zones=1)
    zone = zone_of(profile)
    node = f"virtual-kubelet-{zone}"
    await wait_for(lambda: node_ready(api, node), 30, what=f"node {node} Ready")
    got = await core.read_node(node)
    assert got.metadata.labels["type"] == "virtual-kubelet"
    assert got.metadata.labels["topology.kubernetes.io/zone"] == zone
    assert got.metadata.labels["eci.ask.dev/profile"] == profile["metadata"]["name"]
    # (the node-lifecycle controller's own not-ready taint may still be there for a moment)
    assert ("virtual-kubelet.io/provider", "alibabacloud", "NoSchedule") in [
        (t.key, t.value, t.effect) for t in got.spec.taints
    ]
    address = node_network_env(str(kubeconfig)).get("ECI_NODE_ADDRESS", "127.0.0.1")
    assert got.status.addresses[0].address == address
    lease = await client.CoordinationV1Api(api).read_namespaced_lease(node, "kube-node-lease")
    assert lease.spec.lease_duration_seconds == 40

    selector = {"topology.kubernetes.io/zone": zone}
    await apps.create_namespaced_deployment(namespace, deployment("demo", 2, cpu="2", node_selector=selector))

    async def two_running_with(spec: str) -> list[Any] | None:
        pods = await running_pods(core, namespace, "demo")
        ok = [p for p in pods if (p.metadata.annotations or {}).get(ANN + "eci-instance-spec") == spec]
        return ok if len(ok) == 2 and len(pods) == 2 else None

    pods = await wait_for(lambda: two_running_with("2.0-1.0Gi"), 60, what="2 Running pods of spec 2.0-1.0Gi")
    cidr = ipaddress.ip_network("10.0.0.0/16")
    for pod in pods:
        ann = pod.metadata.annotations
        assert ann[ANN + "eci-instance-cpu"] == "2.0"
        assert ann[ANN + "eci-instance-mem"] == "1.0"
        assert ann[ANN + "eci-instance-zone"] == zone
        assert ann[ANN + "eci-instance-id"].startswith("eci-")
        assert ann[ANN + "eci-security-group"] == "sg-test"
        assert pod.status.pod_ip == pod.status.host_ip
        assert ipaddress.ip_address(pod.status.pod_ip) in cidr
        conditions = {c.type: c.status for c in pod.status.conditions}
        assert conditions == {
            "PodScheduled": "True",
            "ContainerInstanceCreated": "True",
            "SandboxReady": "True",
            "Initialized": "True",
            "ContainersReady": "True",
            "Ready": "True",
        }
        assert pod.status.container_statuses[0].ready
        assert pod.status.container_statuses[0].container_id
        group = await custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "containergroups", pod.metadata.name
        )
        assert group["spec"]["podUid"] == pod.metadata.uid
        assert group["metadata"]["ownerReferences"][0]["uid"] == pod.metadata.uid
        assert group["status"]["phase"] == "Running"
        assert group["status"]["ip"] == pod.status.pod_ip
    assert len({p.status.pod_ip for p in pods}) == 2

    patch = {"spec": {"template": {"metadata": {"annotations": {ANN + "eci-use-specs": "ecs.g7.xlarge"}}}}}
    await apps.patch_namespaced_deployment("demo", namespace, patch)
    pods = await wait_for(lambda: two_running_with("ecs.g7.xlarge"), 90, what="rolled-out ecs.g7.xlarge pods")
    ann = pods[0].metadata.annotations
    assert (ann[ANN + "eci-instance-cpu"], ann[ANN + "eci-instance-mem"]) == ("4.000", "16.00")  # ECS type

    second = {"id": f"vsw-{profile['metadata']['name']}-b", "zoneId": zone[:-1] + "b", "cidr": "10.1.0.0/16"}
    vswitches = [*profile["spec"]["vSwitches"], second]
    await custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        profile["metadata"]["name"],
        {"spec": {"vSwitches": vswitches}},
        _content_type="application/merge-patch+json",
    )
    node_b = f"virtual-kubelet-{second['zoneId']}"
    await wait_for(lambda: node_ready(api, node_b), 30, what=f"second node {node_b} Ready")

    async def status_lists_two_nodes() -> bool:
        got = await custom.get_cluster_custom_object(
            GROUP, VERSION, "eciprofiles", profile["metadata"]["name"]
        )
        return sorted(n["name"] for n in got.get("status", {}).get("nodes", [])) == sorted([node, node_b])

    await wait_for(status_lists_two_nodes, 30, what="profile status listing both nodes")


async def test_delete_deployment_leaves_nothing(api: ApiClient, namespace: str, make_profile: Any) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    await apps.create_namespaced_deployment(namespace, deployment("gone", 8, node_selector=selector))

    async def eight_running() -> bool:
        return len(await running_pods(core, namespace, "gone")) == 8

    await wait_for(eight_running, 60, what="8 Running pods")
    await apps.delete_namespaced_deployment("gone", namespace, propagation_policy="Foreground")

    async def nothing_left() -> bool:
        pods = (await core.list_namespaced_pod(namespace)).items
        groups = await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups")
        return not pods and not groups["items"]

    await wait_for(nothing_left, 60, what="no pod (none Terminating) and no ContainerGroup left")


async def test_job_completes(api: ApiClient, namespace: str, make_profile: Any) -> None:
    batch = client.BatchV1Api(api)
    profile = await make_profile()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "backoffLimit": 0,
            "completions": 2,
            "template": {
                "metadata": {"annotations": {"eci.ask.dev/exit-after": "1", "eci.ask.dev/exit-code": "0"}},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {"topology.kubernetes.io/zone": zone_of(profile)},
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                    "containers": [{"name": "work", "image": "busybox"}],
                },
            },
        },
    }
    await batch.create_namespaced_job(namespace, job)

    async def complete() -> bool:
        got = await batch.read_namespaced_job_status("once", namespace)
        return any(c.type == "Complete" and c.status == "True" for c in got.status.conditions or [])

    await wait_for(complete, 60, what="Job once Complete")
    pods = (await client.CoreV1Api(api).list_namespaced_pod(namespace)).items
    assert {p.status.phase for p in pods} == {"Succeeded"}
    terminated = pods[0].status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0
    assert terminated.reason == "Completed"


async def test_failing_container_fails_the_pod(api: ApiClient, namespace: str, make_profile: Any) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    pod = virtual_pod(
        "crash",
        annotations={"eci.ask.dev/exit-after": "0.5", "eci.ask.dev/exit-code": "3"},
        nodeSelector={"topology.kubernetes.io/zone": zone_of(profile)},
        restartPolicy="Never",
    )
    await core.create_namespaced_pod(namespace, pod)

    async def failed() -> Any:
        got = await core.read_namespaced_pod("crash", namespace)
        return got if got.status.phase == "Failed" else None

    got = await wait_for(failed, 30, what="pod crash Failed")
    assert got.status.container_statuses[0].state.terminated.exit_code == 3
