"""Faults, injected for real: nothing is lost, duplicated or left stuck, and the invariants come back."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import virtual_deployment, virtual_pod, zone_of
from fault_helper import ANNOTATION_PODS, FAULT_PODS, invariants_hold, record_fault
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient
from proxy_helper import FaultProxy, path_has, writes_to

from helpers import OperatorProcess, wait_for

REPO = Path(__file__).resolve().parents[3]


def deployment(
    name: str, replicas: int, zone: str, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    zone_selector = {"topology.kubernetes.io/zone": zone}
    return virtual_deployment(name, replicas, annotations=annotations, node_selector=zone_selector)


async def count(api: ApiClient, namespace: str, phase: str | None = None) -> int:
    pods = (await client.CoreV1Api(api).list_namespaced_pod(namespace)).items
    return sum(
        1 for p in pods if phase is None or (p.status.phase == phase and not p.metadata.deletion_timestamp)
    )


async def test_sigkill_during_scale_up_and_mass_delete(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess, kubeconfig: Path
) -> None:
    apps = client.AppsV1Api(api)
    profile = await make_profile()
    rng = random.Random(FAULT_PODS)
    await apps.create_namespaced_deployment(namespace, deployment("big", FAULT_PODS, zone_of(profile)))
    for _ in range(2):  # kill at two random points of the scale-up
        target = rng.randint(1, FAULT_PODS // 2)
        await wait_for(
            lambda t=target: _at_least(api, namespace, "Running", t), 180, what=f"{target} Running"
        )
        operator_process.kill()
        record_fault("sigkill")
        operator_process.start()
    await wait_for(
        lambda: _at_least(api, namespace, "Running", FAULT_PODS), 300, what=f"{FAULT_PODS} Running"
    )
    await invariants_hold(kubeconfig, 60, "after SIGKILLs during a scale-up")

    await apps.delete_namespaced_deployment("big", namespace, propagation_policy="Background")
    await wait_for(
        lambda: _at_most(api, namespace, FAULT_PODS - rng.randint(1, FAULT_PODS // 2)),
        180,
        what="the mass delete under way",
    )
    operator_process.kill()
    record_fault("sigkill")
    operator_process.start()
    await wait_for(lambda: _at_most(api, namespace, 0), 300, what="every pod gone after the mass delete")
    await invariants_hold(kubeconfig, 60, "after a SIGKILL during a mass delete")


async def _at_least(api: ApiClient, namespace: str, phase: str, n: int) -> bool:
    return await count(api, namespace, phase) >= n


async def _at_most(api: ApiClient, namespace: str, n: int) -> bool:
    return await count(api, namespace) <= n


async def test_apiserver_restart_while_pods_are_created(
    api: ApiClient,
    namespace: str,
    make_profile: Any,
    operator_process: OperatorProcess,
    kubeconfig: Path,
    request: pytest.FixtureRequest,
) -> None:
    if request.config.getoption("--kubeconfig"):
        pytest.skip("restarts a component of the local control plane")
    from eci_operator.devcluster.controlplane import ControlPlane, default_root

    core = client.CoreV1Api(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    n = 40
    for i in range(n // 2):
        await core.create_namespaced_pod(namespace, virtual_pod(f"a-{i}", nodeSelector=selector))
    pid = operator_process.proc.pid
    plane = ControlPlane(
        default_root() if "ECI_CLUSTER_DIR" in __import__("os").environ else REPO / ".cluster"
    )
    plane.restart("kube-apiserver")
    record_fault("apiserver-restart")

    async def create_rest() -> bool:
        for i in range(n // 2, n):
            try:
                await core.create_namespaced_pod(namespace, virtual_pod(f"a-{i}", nodeSelector=selector))
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
        return True

    await wait_for(create_rest, 60, what="the apiserver to take pods again")
    await wait_for(
        lambda: _at_least(api, namespace, "Running", n), 120, what=f"{n} Running after the restart"
    )
    assert operator_process.proc.pid == pid, "the operator was restarted"
    assert operator_process.proc.poll() is None, "the operator exited"
    await invariants_hold(kubeconfig, 60, "after an apiserver restart")


@pytest.fixture
async def proxied_operator(
    operator_process: OperatorProcess, kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[tuple[FaultProxy, OperatorProcess]]:
    """The session operator is stopped; another one talks to the apiserver only through the fault proxy."""
    proxy = FaultProxy(kubeconfig, tmp_path / "proxy")
    await proxy.start()
    operator_process.stop()
    proxied = OperatorProcess(str(proxy.kubeconfig), str(tmp_path / "proxied.log"))
    proxied.env["ECI_RESYNC_SECONDS"] = "5"
    synced = proxied.synced_count()
    try:
        proxied.start(wait=False)  # the proxy runs on this event loop: wait without blocking it
        await wait_for(lambda: proxied.synced_count() > synced, 60, what="the proxied operator to sync")
        yield proxy, proxied
    finally:
        code = await asyncio.to_thread(proxied.stop)  # the proxy runs on this loop: keep it serving
        await proxy.stop()
        operator_process.start()
    assert code in (0, None), proxied.log_tail()


async def test_api_errors_resets_latency_and_watch_expiry_lose_nothing(
    api: ApiClient, namespace: str, make_profile: Any, proxied_operator: Any, kubeconfig: Path
) -> None:
    proxy, proxied = proxied_operator
    core = client.CoreV1Api(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    proxy.fail(writes_to("/containergroups"), times=10, status=500)
    proxy.fail(writes_to("/status"), times=10, status=429, retry_after=1)
    proxy.fail(writes_to("/pods/"), times=5, status=503)
    proxy.reset(writes_to("/containergroups"), times=5)
    proxy.expire_watch(path_has("/pods"), times=2)
    proxy.latency = 0.05
    n = 30
    for i in range(n):
        await core.create_namespaced_pod(namespace, virtual_pod(f"p-{i}", nodeSelector=selector))
    await wait_for(lambda: _at_least(api, namespace, "Running", n), 180, what=f"{n} Running through faults")
    # deletions while the pod watch keeps expiring: none may be missed
    proxy.expire_watch(path_has("/pods"), times=2)
    for i in range(0, n, 2):
        await core.delete_namespaced_pod(f"p-{i}", namespace)
    await wait_for(lambda: _at_most(api, namespace, n // 2), 120, what="the deleted pods gone")
    await invariants_hold(kubeconfig, 60, "after API faults through the proxy")
    for kind, times in proxy.injected.items():
        record_fault(kind, times)
    assert proxy.injected["watch-410"] >= 1
    assert sum(proxy.injected.values()) >= 20
    assert proxied.proc.poll() is None, proxied.log_tail()


async def test_sigterm_finishes_in_flight_work_and_exits_0(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess, kubeconfig: Path
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    for i in range(40):
        await core.create_namespaced_pod(namespace, virtual_pod(f"t-{i}", nodeSelector=selector))
    await wait_for(lambda: _at_least(api, namespace, "Running", 10), 60, what="some pods Running")
    code = operator_process.stop(signal.SIGTERM, timeout=20)
    record_fault("sigterm")
    assert code == 0, operator_process.log_tail()
    operator_process.start()
    await wait_for(
        lambda: _at_least(api, namespace, "Running", 40), 60, what="all 40 Running after the restart"
    )
    await invariants_hold(kubeconfig, 60, "after a SIGTERM")


async def test_a_stalled_operator_reasserts_node_and_pod_readiness(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess, kubeconfig: Path
) -> None:
    """SIGSTOP past the lease duration: the node-lifecycle controller marks the node and its pods NotReady;
    after SIGCONT the operator must make both Ready again (a bug virtual-kubelet had)."""
    core = client.CoreV1Api(api)
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await core.create_namespaced_pod(
        namespace, virtual_pod("steady", nodeSelector={"topology.kubernetes.io/zone": zone_of(profile)})
    )
    await wait_for(lambda: _ready("pod", api, namespace, "steady"), 30, what="pod steady Ready")
    operator_process.proc.send_signal(signal.SIGSTOP)
    record_fault("sigstop")
    try:
        await wait_for(
            lambda: _not(_ready("node", api, None, node)), 180, what=f"{node} NotReady during the stall"
        )
        await wait_for(
            lambda: _not(_ready("pod", api, namespace, "steady")), 60, what="pod steady marked NotReady"
        )
    finally:
        operator_process.proc.send_signal(signal.SIGCONT)
    await wait_for(lambda: _ready("node", api, None, node), 60, what=f"{node} Ready again")
    await wait_for(lambda: _ready("pod", api, namespace, "steady"), 90, what="pod steady Ready re-asserted")
    await invariants_hold(kubeconfig, 60, "after a node-lifecycle blip")


async def _ready(kind: str, api: ApiClient, namespace: str | None, name: str) -> bool:
    core = client.CoreV1Api(api)
    obj = await (core.read_node(name) if kind == "node" else core.read_namespaced_pod(name, namespace))
    return any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions or [])


async def _not(value: Any) -> bool:
    return not await value


def generated_annotations(n: int) -> list[dict[str, str]]:
    """``n`` annotation sets from hypothesis: valid values, near misses and arbitrary strings."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = [
        "k8s.aliyun.com/eci-use-specs",
        "k8s.aliyun.com/eci-schedule-strategy",
        "k8s.aliyun.com/eci-fail-strategy",
        "k8s.aliyun.com/eci-max-pending-minute",
        "k8s.aliyun.com/eci-spot-strategy",
        "k8s.aliyun.com/eci-spot-price-limit",
        "eci.ask.dev/startup-delay",
    ]
    good = {
        keys[0]: st.sampled_from(["2-4Gi", "1-2Gi,2-4Gi", "ecs.c7.large", "0.5-1Gi"]),
        keys[1]: st.sampled_from(["VSwitchOrdered", "VSwitchRandom"]),
        keys[2]: st.sampled_from(["fail-back", "fail-fast"]),
        keys[3]: st.integers(10, 1440).map(str),
        keys[4]: st.just("SpotAsPriceGo"),
        keys[5]: st.just("0.5"),
        keys[6]: st.sampled_from(["0", "0.1"]),
    }
    value = {k: st.one_of(v, v, st.text(max_size=12)) for k, v in good.items()}
    sets: list[dict[str, str]] = []

    @settings(max_examples=n, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries({}, optional=value))
    def collect(annotations: dict[str, str]) -> None:
        if "k8s.aliyun.com/eci-spot-price-limit" in annotations:
            annotations.pop("k8s.aliyun.com/eci-spot-strategy", None)
            annotations["k8s.aliyun.com/eci-spot-strategy"] = "SpotWithPriceLimit"
        sets.append(annotations)

    collect()
    return sets[:n]


async def test_generated_annotations_at_scale_each_get_a_clear_answer(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess, kubeconfig: Path
) -> None:
    from eci_operator.domain.lifecycle import parse_lifecycle
    from eci_operator.domain.resolve import validate_pod
    from eci_operator.models.profile import ECIProfileSpec

    core = client.CoreV1Api(api)
    profile = await make_profile()
    spec = ECIProfileSpec.model_validate(profile["spec"])
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    rss_before = _rss_kb(operator_process.proc.pid)
    expected: dict[str, bool] = {}
    refused_at_admission = 0
    refusals: list[tuple[bool, dict[str, str], str]] = []
    for i, wanted in enumerate(generated_annotations(ANNOTATION_PODS)):
        pod = virtual_pod(f"h-{i}", nodeSelector=selector, annotations=wanted)
        valid = not validate_pod(pod, spec, namespace_labels={})
        try:
            parse_lifecycle(pod)
        except ValueError:
            valid = False
        try:
            await core.create_namespaced_pod(namespace, pod)
        except client.ApiException as exc:
            refusals.append((valid, wanted, str(exc.body)))
            refused_at_admission += 1
            continue
        expected[f"h-{i}"] = valid

    assert not [r for r in refusals if r[0]], f"valid pods refused: {[r for r in refusals if r[0]][:3]}"
    # a refusal at admission names the annotation at fault
    assert all(any(k in body for k in wanted) for _, wanted, body in refusals), refusals[:3]

    async def all_answered() -> bool:
        pods = {p.metadata.name: p for p in (await core.list_namespaced_pod(namespace)).items}
        return all(
            (pods[name].status.phase == "Running") if ok else (pods[name].status.phase == "Failed")
            for name, ok in expected.items()
        )

    await wait_for(all_answered, 300, what="every valid pod Running and every invalid one Failed")
    events = (await core.list_namespaced_event(namespace)).items
    warned = {e.involved_object.name for e in events if e.reason == "ProviderFailed"}
    missing = [name for name, ok in expected.items() if not ok and name not in warned]
    assert not missing, f"invalid pods without a ProviderFailed event: {missing[:5]}"
    growth_mb = (_rss_kb(operator_process.proc.pid) - rss_before) / 1024
    assert growth_mb < float(os.environ.get("ECI_FAULT_RSS_GROWTH_MB", "150")), (
        f"RSS grew by {growth_mb:.0f} MB"
    )
    record_fault("generated-annotations", len(expected) + refused_at_admission)
    await invariants_hold(kubeconfig, 60, "after generated annotations")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
