"""Usage on virtual nodes through a real metrics-server, `kubectl top`, and a real HPA driven by a Load.

Real: the control plane with metrics-server (scraping each virtual node's kubelet port at its InternalIP,
127.0.0.1 here), the controller-manager's HPA controller (sync 5 s), the operator as a process. The kubelet
endpoints are also read directly (the apiserver's node proxy refuses loopback node addresses).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import (
    GROUP,
    VERSION,
    ProfileFactory,
    node_ready,
    virtual_deployment,
    virtual_pod,
    zone_of,
)
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, scrape, wait_for

GI = 2**30
TOLERANCE = 0.05  # kubectl top against the model: within 5 % (the counter's rate over a 10 s window)


def parse_cpu(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def parse_memory(text: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return float(text[:-2]) * units[text[-2:]] if text[-2:] in units else float(text)


def top(kubectl: Any, *args: str) -> dict[str, tuple[float, float]]:
    out = kubectl("top", *args, "--no-headers").stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return {r[0]: (parse_cpu(r[1]), parse_memory(r[2] if args[0] == "pod" else r[3])) for r in rows}


def kubelet_get(port: int, path: str) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the operator's in-memory CA; metrics-server too uses insecure TLS
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=10) as answer:
        return bytes(answer.read())


async def node_port(api: ApiClient, node: str) -> int:
    got = await client.CoreV1Api(api).read_node(node)
    return int(got.status.daemon_endpoints.kubelet_endpoint.port)


async def test_kubectl_top_shows_a_fixed_usage_and_the_endpoints_answer(
    api: ApiClient,
    kubectl: Any,
    kubeconfig: Path,
    namespace: str,
    make_profile: ProfileFactory,
    operator_process: OperatorProcess,
) -> None:
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 60, what=f"node {node} Ready")
    pod = virtual_pod(
        "fixed",
        annotations={"eci.ask.dev/cpu-usage": "500m", "eci.ask.dev/memory-usage": "256Mi"},
        containers=[
            {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}
        ],
    )
    await client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    port = await node_port(api, node)

    def pod_top() -> tuple[float, float] | None:
        return top(kubectl, "pod", "-n", namespace).get("fixed")

    cpu, memory = await wait_for(pod_top, 90, what="kubectl top pod to show the pod", interval=2)
    assert abs(cpu - 0.5) <= 0.5 * TOLERANCE, cpu
    assert memory == 256 * 2**20
    node_cpu, node_memory = await wait_for(
        lambda: top(kubectl, "node", node).get(node), 60, what="kubectl top node"
    )
    assert abs(node_cpu - 0.5) <= 0.5 * TOLERANCE, node_cpu  # the node is the sum of its one pod
    assert node_memory == 256 * 2**20

    text = kubelet_get(port, "/metrics/resource").decode()
    assert f'container_cpu_usage_seconds_total{{container="c",namespace="{namespace}",pod="fixed"}}' in text
    summary = json.loads(kubelet_get(port, "/stats/summary"))
    assert summary["node"]["nodeName"] == node
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["fixed"]
    bound = json.loads(kubelet_get(port, "/pods"))
    assert bound["kind"] == "PodList"
    assert [p["metadata"]["name"] for p in bound["items"]] == ["fixed"]
    running = json.loads(kubelet_get(port, "/runningpods/"))
    assert [p["metadata"]["name"] for p in running["items"]] == ["fixed"]

    # billed against used: a 1-vCPU instance (requests 1 CPU, 2Gi) using half a core
    figures = scrape(operator_process.metrics_port)
    assert figures[("eci_operator_vcpu_billed", (("namespace", namespace),))] == 1.0
    assert figures[("eci_operator_vcpu_used", (("namespace", namespace),))] == pytest.approx(0.5)
    cli = str(Path(sys.executable).parent / "eci-operator")
    bill = subprocess.run(  # noqa: ASYNC221 - the CLI as a user runs it
        [cli, "bill", f"--kubeconfig={kubeconfig}"], capture_output=True, text=True, timeout=60
    )
    assert bill.returncode == 0, bill.stderr
    row = next(line.split() for line in bill.stdout.split("Running now")[1].splitlines() if namespace in line)
    assert row[1:3] == ["1", "1.000"]
    assert abs(float(row[3]) - 0.5) <= 0.5 * TOLERANCE


def hpa(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 10, "periodSeconds": 5}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 5,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}],
                },
            },
        },
    }


async def test_an_hpa_scales_a_virtual_node_deployment_out_under_a_load_and_back_in(
    api: ApiClient, kubectl: Any, namespace: str, make_profile: ProfileFactory
) -> None:
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 60, what=f"node {node} Ready")
    apps, custom, core = client.AppsV1Api(api), client.CustomObjectsApi(api), client.CoreV1Api(api)
    # requests 500m on a 2-vCPU instance: a pod can use up to 400 % of its request, as ECI lets it
    deployment = virtual_deployment(
        "web",
        1,
        annotations={"k8s.aliyun.com/eci-use-specs": "2-4Gi"},
        containers=[
            {"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
        ],
    )
    await apps.create_namespaced_deployment(namespace, deployment)
    await client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(namespace, hpa("web"))
    load = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Load",
        "metadata": {"name": "burst"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "schedule": [{"durationSeconds": 600, "cpu": "4"}],
        },
    }
    await custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "loads", load)

    async def replicas() -> int:
        got = await apps.read_namespaced_deployment(namespace=namespace, name="web")
        return int(got.status.ready_replicas or 0)

    await wait_for(
        lambda: _at_least(replicas, 8), 180, what="the HPA to scale web to >= 8 Ready replicas", interval=1
    )
    pods = (await core.list_namespaced_pod(namespace, label_selector="app=web")).items
    running = [p for p in pods if p.status.phase == "Running"]
    assert len(running) >= 8
    assert all(p.spec.node_name == node for p in running)
    groups = await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups")
    billed = {g["metadata"]["name"] for g in groups["items"] if g.get("status", {}).get("billedIntervals")}
    assert {p.metadata.name for p in running} <= billed

    status = await wait_for(
        lambda: _load_status(custom, namespace), 30, what="the Load's status to count the pods"
    )
    assert status["readyPods"] >= 1
    # the step ends: the demand goes to zero, the pods to their idle usage, the HPA scales back in
    end = {"spec": {"schedule": [{"durationSeconds": 1, "cpu": "0"}]}}
    kubectl("patch", "load", "burst", "-n", namespace, "--type=merge", "-p", json.dumps(end))

    async def scaled_in() -> bool:
        got = await apps.read_namespaced_deployment(namespace=namespace, name="web")
        return int(got.spec.replicas) == 1

    await wait_for(scaled_in, 180, what="the HPA to scale web back to 1 replica", interval=1)


async def _at_least(count: Any, n: int) -> bool:
    return int(await count()) >= n


async def _load_status(custom: client.CustomObjectsApi, namespace: str) -> dict[str, Any] | None:
    got = await custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "loads", "burst")
    status = got.get("status")
    return dict(status) if status and status.get("pods") else None
