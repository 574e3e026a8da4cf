"""ASK's demo replayed through ASK's own objects only, on the real control plane: VSwitch objects and the
kube-system/eci-profile ConfigMap, edited with kubectl as an ASK runbook does; plus a bad edit (Warning
Event, the old configuration still serving) and the VSwitches' status and printer columns."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cluster_helpers import ANN, node_ready, rand, virtual_deployment
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, wait_for

PROFILE = "kube-system.eci-profile"


def vswitch_yaml(vsw: str, zone: str, cidr: str, **simulation: Any) -> str:
    spec: dict[str, Any] = {"vSwitchId": vsw, "vpcId": "vpc-ask", "zoneId": zone, "cidrBlock": cidr}
    if simulation:
        spec["simulation"] = simulation
    return json.dumps(
        {"apiVersion": "eci.ask.dev/v1alpha1", "kind": "VSwitch", "metadata": {"name": vsw}, "spec": spec}
    )


@pytest.fixture
async def ask(
    api: ApiClient, kubectl: Any, operator_process: OperatorProcess
) -> AsyncIterator[dict[str, str]]:
    """Zones of this test's own; afterwards the ConfigMap, the VSwitches and the Deployment's nodes go."""
    tag = rand(4)
    names = {
        "zone_a": f"cn-hangzhou-a{tag}",
        "zone_b": f"cn-hangzhou-b{tag}",
        "vsw_a": f"vsw-{tag}-a",
        "vsw_b": f"vsw-{tag}-b",
    }
    yield names
    kubectl("-n", "kube-system", "delete", "configmap", "eci-profile", "--ignore-not-found")
    kubectl("delete", "vswitches", names["vsw_a"], names["vsw_b"], "--ignore-not-found")
    core = client.CoreV1Api(api)

    async def nodes_gone() -> bool:
        nodes = await core.list_node(label_selector=f"eci.ask.dev/profile={PROFILE}")
        return not nodes.items

    await wait_for(nodes_gone, 90, what="the ConfigMap's virtual nodes to retire")


async def running(core: client.CoreV1Api, namespace: str, app: str) -> list[Any]:
    pods = (await core.list_namespaced_pod(namespace, label_selector=f"app={app}")).items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


async def test_the_ask_demo_through_the_configmap_and_vswitches(
    api: ApiClient, kubectl: Any, namespace: str, ask: dict[str, str]
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    zone_a, zone_b = ask["zone_a"], ask["zone_b"]
    node_a, node_b = f"virtual-kubelet-{zone_a}", f"virtual-kubelet-{zone_b}"
    kubectl("apply", "-f", "-", input=vswitch_yaml(ask["vsw_a"], zone_a, "10.77.0.0/24"))
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "eci-profile", "namespace": "kube-system"},
        "data": {
            "vSwitchIds": ask["vsw_a"],
            "vpcId": "vpc-ask",
            "securityGroupId": "sg-ask",
            "enableClusterIp": "true",
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(configmap))
    await wait_for(lambda: node_ready(api, node_a), 30, what=f"node {node_a} Ready")
    assert (await core.read_node(node_a)).metadata.labels["eci.ask.dev/profile"] == PROFILE

    # a Deployment asking for 2 CPU, on the ConfigMap's nodes
    selector = {"eci.ask.dev/profile": PROFILE}
    app = [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "2"}}}]
    await apps.create_namespaced_deployment(
        namespace, virtual_deployment("demo", 2, node_selector=selector, containers=app)
    )

    async def two_running_with(spec: str) -> list[Any] | None:
        pods = await running(core, namespace, "demo")
        ok = [p for p in pods if (p.metadata.annotations or {}).get(ANN + "eci-instance-spec") == spec]
        return ok if len(ok) == 2 and len(pods) == 2 else None

    await wait_for(lambda: two_running_with("2.0-1.0Gi"), 60, what="2 Running pods of spec 2.0-1.0Gi")
    patch = {"spec": {"template": {"metadata": {"annotations": {ANN + "eci-use-specs": "ecs.g7.xlarge"}}}}}
    await apps.patch_namespaced_deployment("demo", namespace, patch)
    pods = await wait_for(lambda: two_running_with("ecs.g7.xlarge"), 90, what="rolled-out ecs.g7.xlarge pods")
    ann = pods[0].metadata.annotations
    assert (ann[ANN + "eci-instance-cpu"], ann[ANN + "eci-instance-mem"]) == ("4.000", "16.00")
    assert ann[ANN + "eci-security-group"] == "sg-ask"

    # "create a vSwitch in the VPC", then add it to vSwitchIds: a second node in that zone
    kubectl("apply", "-f", "-", input=vswitch_yaml(ask["vsw_b"], zone_b, "10.77.1.0/24"))
    ids = f"{ask['vsw_a']},{ask['vsw_b']}"
    kubectl(
        "-n",
        "kube-system",
        "patch",
        "configmap",
        "eci-profile",
        "-p",
        json.dumps({"data": {"vSwitchIds": ids}}),
    )
    await wait_for(lambda: node_ready(api, node_b), 30, what=f"second node {node_b} Ready")

    # the addresses in use, listed by `kubectl get vsw`
    async def listed() -> str | None:
        out = kubectl("get", "vsw", ask["vsw_a"], "--no-headers").stdout
        return out if f" {zone_a} " in out and " 10.77.0.0/24 " in out and " 2 " in out else None

    out = await wait_for(listed, 30, what="kubectl get vsw to show 2 addresses in use")
    assert out.split()[:4] == [ask["vsw_a"], "vpc-ask", zone_a, "10.77.0.0/24"]

    # zone a taken down on its vSwitch: new replicas run in zone b
    outage = json.dumps({"spec": {"simulation": {"available": False}}})
    kubectl("patch", "vsw", ask["vsw_a"], "--type=merge", "-p", outage)

    async def node_a_down() -> bool:
        node = await core.read_node(node_a)
        return any(c.type == "Ready" and c.status == "False" for c in node.status.conditions or [])

    await wait_for(node_a_down, 30, what=f"node {node_a} NotReady (zone down)")
    await apps.patch_namespaced_deployment_scale("demo", namespace, {"spec": {"replicas": 4}})

    async def two_in_b() -> list[Any] | None:
        pods = [p for p in await running(core, namespace, "demo") if p.spec.node_name == node_b]
        return pods if len(pods) >= 2 else None

    pods = await wait_for(two_in_b, 90, what=f"new replicas Running in {zone_b}")
    assert all(p.metadata.annotations[ANN + "eci-instance-zone"] == zone_b for p in pods)
    await apps.delete_namespaced_deployment("demo", namespace)


async def test_a_bad_edit_keeps_the_old_configuration_and_warns(
    api: ApiClient, kubectl: Any, ask: dict[str, str]
) -> None:
    core = client.CoreV1Api(api)
    zone_a = ask["zone_a"]
    node_a = f"virtual-kubelet-{zone_a}"
    kubectl("apply", "-f", "-", input=vswitch_yaml(ask["vsw_a"], zone_a, "10.78.0.0/24"))
    data = {"vSwitchIds": ask["vsw_a"], "vpcId": "vpc-ask", "securityGroupId": "sg-ask"}
    kubectl(
        "-n",
        "kube-system",
        "create",
        "configmap",
        "eci-profile",
        *[f"--from-literal={k}={v}" for k, v in data.items()],
    )
    await wait_for(lambda: node_ready(api, node_a), 30, what=f"node {node_a} Ready")
    bad = {"data": {"selectors": "[{", "vSwitchIds": f"{ask['vsw_a']},vsw-nope"}}
    patch = ("-n", "kube-system", "patch", "configmap", "eci-profile", "-p", json.dumps(bad))
    refused = kubectl(*patch, check=False)
    assert refused.returncode != 0  # the validating webhook, with the messages of the Event below
    assert "data.vSwitchIds: 'vsw-nope' is not valid: no such vSwitch" in refused.stderr
    assert (await core.read_namespaced_config_map("eci-profile", "kube-system")).data == data
    # An edit the webhook did not see (made while the operator was down; here: the opt-out label).
    kubectl("-n", "kube-system", "label", "configmap", "eci-profile", "eci.ask.dev/skip-admission=true")
    kubectl(*patch)

    async def warned() -> str | None:
        events = await core.list_namespaced_event(
            "kube-system", field_selector="involvedObject.name=eci-profile,type=Warning"
        )
        messages = [e.message for e in events.items if e.reason == "InvalidConfiguration"]
        return messages[-1] if messages else None

    message = await wait_for(warned, 30, what="a Warning Event on the ConfigMap")
    assert "data.vSwitchIds: 'vsw-nope' is not valid: no such vSwitch" in message
    assert "the previous configuration keeps serving" in message
    assert await node_ready(api, node_a)
    cm = await core.read_namespaced_config_map("eci-profile", "kube-system")
    assert cm.metadata.annotations is None or not any("kopf" in k for k in cm.metadata.annotations)
    assert cm.metadata.finalizers is None
