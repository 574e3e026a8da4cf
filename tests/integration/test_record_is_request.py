"""The record is the request: a lifecycle annotation edited onto a Running pod changes nothing, before or
after an operator restart, and the pod's address is never handed out again."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cluster_helpers import virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from eci_operator.cli.check import snapshot, violations
from helpers import OperatorProcess, wait_for


async def test_an_edited_annotation_changes_nothing_across_a_restart(
    api: ApiClient, kubeconfig: Path, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    core = client.CoreV1Api(api)
    region = f"cn-t{uuid.uuid4().hex[:4]}"
    small = await make_profile(
        regionId=region,
        vSwitches=[
            {"id": f"vsw-small-{uuid.uuid4().hex[:5]}", "zoneId": f"{region}-a", "cidr": "10.9.0.0/29"}
        ],
    )
    zone = zone_of(small)
    selector = {"topology.kubernetes.io/zone": zone}
    await core.create_namespaced_pod(namespace, virtual_pod("kept", nodeSelector=selector))

    async def running(name: str) -> Any:
        pod = await core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase == "Running" and pod.status.pod_ip else None

    kept = await wait_for(lambda: running("kept"), 60, what="pod kept Running")
    ip, instance = kept.status.pod_ip, kept.metadata.annotations["k8s.aliyun.com/eci-instance-id"]
    edit = {
        "metadata": {
            "annotations": {"eci.ask.dev/exit-code": "not-a-code", "eci.ask.dev/startup-delay": "-5"}
        }
    }
    await core.patch_namespaced_pod("kept", namespace, edit)
    operator_process.kill()
    operator_process.start()
    # the /29 has 4 usable addresses (the first and the last three are reserved): 3 more pods fit beside
    # "kept"; the fourth waits for an address (fail-back)
    for i in range(4):
        await core.create_namespaced_pod(namespace, virtual_pod(f"new-{i}", nodeSelector=selector))

    async def placed() -> list[Any] | None:
        pods = (await core.list_namespaced_pod(namespace)).items
        new = [p for p in pods if p.metadata.name.startswith("new-")]
        return new if sum(p.status.phase == "Running" for p in new) == 3 else None

    new = await wait_for(placed, 90, what="three of the new pods Running on the small vSwitch")
    ips = [p.status.pod_ip for p in new if p.status.pod_ip]
    assert ip not in ips, "the kept pod's address was handed out again"
    assert len(set(ips)) == len(ips) == 3
    fourth = next(p.metadata.name for p in new if p.status.phase != "Running")

    async def waits_for_an_address() -> bool:
        pod = await core.read_namespaced_pod(fourth, namespace)
        created = {c.type: c for c in pod.status.conditions or []}.get("ContainerInstanceCreated")
        return pod.status.phase == "Pending" and created is not None and created.reason == "IpExhausted"

    await wait_for(waits_for_an_address, 30, what=f"pod {fourth} Pending, waiting for an address")
    kept = await core.read_namespaced_pod("kept", namespace)
    assert kept.status.phase == "Running"
    assert kept.status.pod_ip == ip
    assert kept.metadata.annotations["k8s.aliyun.com/eci-instance-id"] == instance

    async def clean() -> bool:
        return not violations(await snapshot(str(kubeconfig)), grace=10)

    await wait_for(clean, 60, what="eci-operator check to pass", interval=1)
