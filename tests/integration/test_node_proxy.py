"""The apiserver's node proxy reaches every kubelet endpoint of a virtual node (with the node network).

Real: the apiserver proxying to the node's InternalIP, which with ``ECI_CLUSTER_NODE_NETWORK=netns`` is an
address inside the cluster's own network namespace, relayed to the operator's Unix socket for that kubelet
port. Without the node network (InternalIP 127.0.0.1) the apiserver refuses: that is asserted too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cluster_helpers import ProfileFactory, node_ready, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import node_network_env, wait_for


async def test_kubectl_get_raw_through_the_node_proxy(
    api: ApiClient, kubectl: Any, kubeconfig: Path, namespace: str, make_profile: ProfileFactory
) -> None:
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 60, what=f"node {node} Ready")
    core = client.CoreV1Api(api)
    pod = virtual_pod("proxied", annotations={"eci.ask.dev/cpu-usage": "250m", "eci.ask.dev/stdout": "hello"})
    await core.create_namespaced_pod(namespace, pod)

    async def running() -> bool:
        got = await core.read_namespaced_pod("proxied", namespace)
        return bool(got.status.phase == "Running")

    await wait_for(running, 60, what="pod proxied Running")
    base = f"/api/v1/nodes/{node}/proxy"
    if not node_network_env(str(kubeconfig)):
        refused = kubectl("get", "--raw", f"{base}/healthz", check=False)
        assert refused.returncode != 0
        assert "address not allowed" in refused.stderr
        return
    assert kubectl("get", "--raw", f"{base}/healthz").stdout.strip() == "ok"
    summary = json.loads(kubectl("get", "--raw", f"{base}/stats/summary").stdout)
    assert summary["node"]["nodeName"] == node
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["proxied"]
    text = kubectl("get", "--raw", f"{base}/metrics/resource").stdout
    assert f'container_cpu_usage_seconds_total{{container="c",namespace="{namespace}",pod="proxied"}}' in text
    for path in ("/pods", "/runningpods/"):
        listing = json.loads(kubectl("get", "--raw", base + path).stdout)
        assert [p["metadata"]["name"] for p in listing["items"]] == ["proxied"], path
    logs = kubectl("logs", "-n", namespace, "proxied").stdout
    assert "hello" in logs
