"""The simulated ECI runtime end to end: outages, stock-outs, spot reclaims, IPs, the bill, kubectl logs."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from cluster_helpers import ANN, GROUP, VERSION, node_ready, virtual_deployment, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, wait_for

MERGE = "application/merge-patch+json"


def deployment(
    name: str, replicas: int, *, annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    selector = spec.pop("nodeSelector", None)
    return virtual_deployment(name, replicas, annotations=annotations, node_selector=selector, **spec)


async def patch_simulation(api: ApiClient, profile: dict[str, Any], simulation: dict[str, Any]) -> None:
    await client.CustomObjectsApi(api).patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        profile["metadata"]["name"],
        {"spec": {"simulation": simulation}},
        _content_type=MERGE,
    )


async def pods_of(api: ApiClient, namespace: str, app: str | None = None) -> list[Any]:
    selector = f"app={app}" if app else None
    return list((await client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector)).items)


async def test_zone_outage_moves_a_deployment_to_the_other_zone(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    profile = await make_profile(zones=2)
    zone_a, zone_b = zone_of(profile, 0), zone_of(profile, 1)
    node_a, node_b = f"virtual-kubelet-{zone_a}", f"virtual-kubelet-{zone_b}"
    await wait_for(lambda: node_ready(api, node_a), 30, what="node a Ready")
    await wait_for(lambda: node_ready(api, node_b), 30, what="node b Ready")
    spread = {
        "nodeSelector": {"eci.ask.dev/profile": profile["metadata"]["name"]},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "nodeTaintsPolicy": "Honor",  # a zone tainted by an outage is no spread domain
                "labelSelector": {"matchLabels": {"app": "ha"}},
            }
        ],
    }
    await client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("ha", 6, **spread))

    async def running_in(zones: set[str]) -> bool:
        pods = [p for p in await pods_of(api, namespace, "ha") if p.metadata.deletion_timestamp is None]
        running = [p for p in pods if p.status.phase == "Running"]
        return (
            len(running) == 6
            and {(p.metadata.annotations or {}).get(ANN + "eci-instance-zone") for p in running} == zones
        )

    await wait_for(lambda: running_in({zone_a, zone_b}), 60, what="6 replicas over both zones")
    await patch_simulation(api, profile, {"zones": [{"zoneId": zone_a, "available": False}]})

    async def node_a_down() -> bool:
        return not await node_ready(api, node_a)

    await wait_for(node_a_down, 30, what="node a NotReady")
    await wait_for(lambda: running_in({zone_b}), 60, what="all 6 replicas Running in zone b")
    failed = [p for p in await pods_of(api, namespace, "ha") if p.status.phase == "Failed"]
    assert all(p.status.reason == "StockClose" for p in failed)  # ECI's reason for a closed zone
    await patch_simulation(api, profile, {"zones": [{"zoneId": zone_a, "available": True}]})
    await wait_for(lambda: node_ready(api, node_a), 30, what="node a Ready again")


async def test_stock_out_falls_back_waits_and_fails_fast(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile(simulation={"zones": []})
    zone = zone_of(profile)
    selector = {"topology.kubernetes.io/zone": zone}
    await patch_simulation(api, profile, {"zones": [{"zoneId": zone, "stock": {"2-4Gi": 0}}]})
    await core.create_namespaced_pod(
        namespace,
        virtual_pod("fallback", nodeSelector=selector, annotations={ANN + "eci-use-specs": "2-4Gi,4-8Gi"}),
    )

    async def pod(name: str) -> Any:
        return await core.read_namespaced_pod(name, namespace)

    async def running(name: str) -> Any:
        got = await pod(name)
        return got if got.status.phase == "Running" else None

    got = await wait_for(lambda: running("fallback"), 30, what="pod fallback Running")
    assert got.metadata.annotations[ANN + "eci-instance-spec"] == "4.0-8.0Gi"

    await patch_simulation(api, profile, {"zones": [{"zoneId": zone, "stock": {"*": 0}}]})
    await core.create_namespaced_pod(namespace, virtual_pod("waits", nodeSelector=selector))
    await core.create_namespaced_pod(
        namespace,
        virtual_pod("fast", nodeSelector=selector, annotations={ANN + "eci-fail-strategy": "fail-fast"}),
    )

    async def waiting_for_stock() -> bool:
        got = await pod("waits")
        conditions = {c.type: c for c in got.status.conditions or []}
        created = conditions.get("ContainerInstanceCreated")
        return got.status.phase == "Pending" and created is not None and created.reason == "NoStock"

    await wait_for(waiting_for_stock, 30, what="pod waits Pending with reason NoStock")
    node = await core.read_node(f"virtual-kubelet-{zone}")
    stock = {c.type: c.status for c in node.status.conditions}
    assert stock["ECIStockExhausted"] == "True"

    async def failed_fast() -> Any:
        got = await pod("fast")
        return got if got.status.phase == "Failed" else None

    got = await wait_for(failed_fast, 30, what="pod fast Failed (fail-fast)")
    assert got.status.reason == "ProviderFailed"
    assert "out of stock" in got.status.message
    await patch_simulation(api, profile, {"zones": [{"zoneId": zone, "stock": {"*": 5}}]})
    await wait_for(lambda: running("waits"), 30, what="pod waits Running once stock is added")


async def test_spot_reclaim_expires_the_group_and_the_deployment_replaces_the_pod(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    custom = client.CustomObjectsApi(api)
    profile = await make_profile()
    annotations = {
        ANN + "eci-spot-strategy": "SpotAsPriceGo",
        ANN + "eci-spot-duration": "0",
        "eci.ask.dev/spot-reclaim-after": "3",
    }
    spec = {"nodeSelector": {"topology.kubernetes.io/zone": zone_of(profile)}}
    await client.AppsV1Api(api).create_namespaced_deployment(
        namespace, deployment("spot", 1, annotations=annotations, **spec)
    )

    async def expired_group() -> Any:
        groups = await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups")
        return next((g for g in groups["items"] if g.get("status", {}).get("phase") == "Expired"), None)

    expired = await wait_for(expired_group, 60, what="a spot group Expired")
    retained = await client.CoreV1Api(api).read_namespaced_pod(expired["metadata"]["name"], namespace)
    assert (retained.status.phase, retained.status.reason) == ("Failed", "BidFailed")  # ASK's page
    events = (await client.CoreV1Api(api).list_namespaced_event(namespace)).items
    assert any(e.reason == "SpotToBeReleased" for e in events)
    price = Decimal(expired["status"]["pricePerSecond"])
    assert price < Decimal("0.000049") * 2 + Decimal("0.00000613") * 4  # cheaper than pay-as-you-go

    async def replaced() -> bool:
        pods = await pods_of(api, namespace, "spot")
        return any(
            p.status.phase == "Running" and p.metadata.name != expired["metadata"]["name"] for p in pods
        )

    await wait_for(replaced, 60, what="the Deployment's replacement pod Running")


async def test_no_ip_is_assigned_twice_across_waves_and_a_restart(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    core = client.CoreV1Api(api)
    # a /26 has 60 usable addresses (the first and the last three are reserved): 300 pods in waves of 50
    # reuse the addresses several times
    profile = await make_profile(vSwitches=None)
    zone = zone_of(profile)
    small = [{"id": f"vsw-{profile['metadata']['name']}-s", "zoneId": zone, "cidr": "10.200.0.0/26"}]
    await client.CustomObjectsApi(api).patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        profile["metadata"]["name"],
        {"spec": {"vSwitches": small}},
        _content_type=MERGE,
    )
    selector = {"topology.kubernetes.io/zone": zone}
    seen_live: list[list[str]] = []
    for wave in range(6):
        names = [f"w{wave}-{i}" for i in range(50)]
        for name in names:
            await core.create_namespaced_pod(namespace, virtual_pod(name, nodeSelector=selector))

        async def wave_running(names: list[str] = names) -> list[Any] | None:
            pods = [p for p in await pods_of(api, namespace) if p.metadata.name in names]
            ok = len(pods) == len(names) and all(p.status.phase == "Running" for p in pods)
            return pods if ok else None

        if wave == 2:
            operator_process.kill()
            operator_process.start()
        pods = await wait_for(wave_running, 120, what=f"wave {wave} Running")
        ips = [p.status.pod_ip for p in pods]
        assert len(set(ips)) == len(ips), f"wave {wave}: an IP was assigned twice"
        seen_live.append(ips)
        for name in names:
            await core.delete_namespaced_pod(name, namespace)

        async def wave_gone(names: list[str] = names) -> bool:
            return not any(p.metadata.name in names for p in await pods_of(api, namespace))

        await wait_for(wave_gone, 120, what=f"wave {wave} deleted")
    assert sum(len(w) for w in seen_live) == 300


async def test_the_bill_is_exact_to_the_cent_including_deleted_pods(
    api: ApiClient, namespace: str, make_profile: Any, kubeconfig: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    big = {ANN + "eci-use-specs": "64-512Gi", "eci.ask.dev/exit-after": "10"}
    for i in range(3):
        await core.create_namespaced_pod(
            namespace, virtual_pod(f"bill-{i}", nodeSelector=selector, annotations=big, restartPolicy="Never")
        )

    async def all_succeeded() -> bool:
        pods = await pods_of(api, namespace)
        return len(pods) == 3 and all(p.status.phase == "Succeeded" for p in pods)

    await wait_for(all_succeeded, 60, what="3 pods Succeeded after 10 s of running")
    for i in range(3):
        await core.delete_namespaced_pod(f"bill-{i}", namespace)

    # by hand: (64 x 0.000049 + 512 x 0.00000613) CNY/s x 10 s x 3 pods = 0.1882368 CNY -> 0.19
    async def recorded() -> Any:
        got = await client.CustomObjectsApi(api).get_cluster_custom_object(
            GROUP, VERSION, "eciprofiles", profile["metadata"]["name"]
        )
        rows = (got.get("status", {}).get("billing") or {}).get("namespaces", [])
        return next((r for r in rows if r["namespace"] == namespace and r["pods"] == 3), None)

    row = await wait_for(recorded, 30, what="the 3 deleted pods on the profile's bill")
    assert Decimal(row["cost"]).quantize(Decimal("0.01")) == Decimal("0.19")
    assert abs(Decimal(row["cost"]) - Decimal("0.1882368")) < Decimal("0.002")
    assert abs(row["vcpuSeconds"] - 1920) < 20
    cli = str(Path(sys.executable).parent / "eci-operator")
    out = subprocess.run(  # noqa: ASYNC221 - the CLI as a user runs it
        [cli, "bill", f"--kubeconfig={kubeconfig}"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    line = next(
        line for line in out.stdout.splitlines() if profile["metadata"]["name"] in line and namespace in line
    )
    assert line.split()[2] == "3"
    assert line.split()[-1] == "0.19"


async def test_kubectl_logs_follow_and_exec_fails_fast(
    api: ApiClient, namespace: str, make_profile: Any, kubectl: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    annotations = {"eci.ask.dev/stdout": "hello from ECI\nsecond line", "eci.ask.dev/exit-after": "8"}
    pod = virtual_pod(
        "talk",
        nodeSelector={"topology.kubernetes.io/zone": zone_of(profile)},
        annotations=annotations,
        restartPolicy="Never",
    )
    await core.create_namespaced_pod(namespace, pod)

    async def running() -> bool:
        return bool((await core.read_namespaced_pod("talk", namespace)).status.phase == "Running")

    await wait_for(running, 30, what="pod talk Running")
    logs = kubectl("logs", "-n", namespace, "talk")
    assert "hello from ECI\nsecond line" in logs.stdout
    tail = kubectl("logs", "-n", namespace, "talk", "--tail=1", "--timestamps")
    assert tail.stdout.strip().endswith("second line")
    assert tail.stdout[:4].isdigit()
    exec_ = kubectl("exec", "-n", namespace, "talk", "--", "true", check=False)
    assert exec_.returncode != 0
    assert "not supported by the simulated ECI runtime" in exec_.stderr
    followed = kubectl("logs", "-n", namespace, "talk", "-f")  # returns when the container exits
    assert "exited with code 0" in followed.stdout


async def test_cross_zone_fail_over_runs_the_pod_in_another_allowed_zone(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    profile = await make_profile(zones=2)
    zone_a, zone_b = zone_of(profile, 0), zone_of(profile, 1)
    vswitch_b = profile["spec"]["vSwitches"][1]["id"]
    await patch_simulation(api, profile, {"zones": [{"zoneId": zone_a, "stock": {"*": 0}}]})
    node_a = f"virtual-kubelet-{zone_a}"
    await wait_for(lambda: node_ready(api, node_a), 30, what=f"node {node_a} Ready")
    in_a = {"topology.kubernetes.io/zone": zone_a}
    await core.create_namespaced_pod(namespace, virtual_pod("over", nodeSelector=in_a))

    async def running() -> Any:
        got = await core.read_namespaced_pod("over", namespace)
        return got if got.status.phase == "Running" else None

    got = await wait_for(running, 30, what="pod over Running through fail-over")
    # Our rule: the pod stays bound to its node; the instance's zone is in eci-instance-zone and the record.
    assert got.spec.node_name == node_a
    assert got.metadata.annotations[ANN + "eci-instance-zone"] == zone_b
    assert got.metadata.annotations[ANN + "eci-vswitch"] == vswitch_b
    group = await custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups", "over")
    assert (group["spec"]["zoneId"], group["status"]["zoneId"]) == (zone_a, zone_b)

    zones = [{"zoneId": zone_a, "stock": {"*": 0}}, {"zoneId": zone_b, "available": False}]
    await patch_simulation(api, profile, {"zones": zones})
    await core.create_namespaced_pod(namespace, virtual_pod("stuck", nodeSelector=in_a))

    async def waiting() -> Any:
        got = await core.read_namespaced_pod("stuck", namespace)
        created = {c.type: c for c in got.status.conditions or []}.get("ContainerInstanceCreated")
        return created if got.status.phase == "Pending" and created and created.reason == "NoStock" else None

    created = await wait_for(waiting, 30, what="pod stuck Pending, NoStock in every allowed zone")
    assert created.message.startswith("Create ECI failed because the specified instance is out of stock.")
    assert f"{zone_a}: NoStock" in created.message
    assert f"{zone_b}: StockClose" in created.message
