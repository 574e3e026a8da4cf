"""Two operator processes with leader election: SIGKILL of the leader during a scale-up.

The session operator is stopped; two replicas (own metrics, webhook and kubelet ports, own identities)
elect a leader on the Lease kube-system/eci-operator. While both run only the leader writes (its request
counters against the standby's); the leader is SIGKILLed a third of the way through a scale-up of
``ECI_FAILOVER_PODS`` pods (40 in ``make test``, 300 in ``make test-faults``); the standby takes over,
adopts every recorded group and places the rest. The takeover time is measured and printed (and is the
new leader's ``eci_operator_leader_takeover_seconds``), never asserted against a wall clock.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import virtual_deployment, virtual_pod, zone_of
from fault_helper import invariants_hold, record_fault
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, scrape, wait_for

FAILOVER_PODS = int(os.environ.get("ECI_FAILOVER_PODS", "40"))


def writes(port: int) -> Counter[str]:
    """Successful writes a replica sent, by resource, the election Lease's left out."""
    out: Counter[str] = Counter()
    for (name, labels), value in scrape(port).items():
        facts = dict(labels)
        if name != "eci_operator_api_requests_total" or facts.get("verb") not in (
            "create",
            "patch",
            "delete",
        ):
            continue
        if str(facts.get("code", "")).startswith("2") and facts.get("resource") != "leases":
            out[str(facts.get("resource"))] += int(value)
    return out


def logged(proc: OperatorProcess, event: str) -> bool:
    try:
        return f'"{event}"' in Path(proc.log_path).read_text(errors="replace")
    except FileNotFoundError:
        return False


@pytest.fixture
async def replicas(
    operator_process: OperatorProcess, kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[tuple[OperatorProcess, OperatorProcess]]:
    assert operator_process.stop() in (0, None)  # SIGTERM: it releases the Lease, the first takes it at once
    first = OperatorProcess(str(kubeconfig), str(tmp_path / "first.log"))
    second = OperatorProcess(str(kubeconfig), str(tmp_path / "second.log"))
    try:
        first.start()  # synced = leading
        second.start(wait=False)
        await wait_for(lambda: logged(second, "operator.standby"), 60, what="the second replica on standby")
        yield first, second
    finally:
        codes = [first.stop(), second.stop()]
        operator_process.start()
    assert codes[1] == 0, second.log_tail()  # the survivor stops cleanly on SIGTERM


async def ready_since(api: ApiClient, node: str) -> str | None:
    obj = await client.CoreV1Api(api).read_node(node)
    ready = [c for c in obj.status.conditions or [] if c.type == "Ready" and c.status == "True"]
    return str(ready[0].last_transition_time) if ready else None


async def test_the_standby_takes_over_a_killed_leader_during_a_scale_up(
    api: ApiClient, namespace: str, make_profile: Any, replicas: Any, kubeconfig: Path, kubectl: Any
) -> None:
    leader, standby = replicas
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    since = await wait_for(lambda: ready_since(api, node), 60, what=f"{node} Ready")
    annotations = {"eci.ask.dev/stdout": "hello from before the failover"}
    big = virtual_deployment(
        "big", FAILOVER_PODS, annotations=annotations, node_selector={"kubernetes.io/hostname": node}
    )
    await apps.create_namespaced_deployment(namespace, big)

    async def running() -> dict[str, str]:
        pods = (await core.list_namespaced_pod(namespace)).items
        return {p.metadata.name: p.status.pod_ip for p in pods if p.status.phase == "Running"}

    third = max(1, FAILOVER_PODS // 3)
    await wait_for(lambda: _len_at_least(running(), third), 180, what=f"{third} pods Running")
    assert writes(standby.metrics_port) == Counter(), "the standby wrote while the leader led"
    assert writes(leader.metrics_port)["containergroups"] >= third
    before = await running()

    leader.kill()
    record_fault("sigkill-leader")
    killed = time.monotonic()
    await wait_for(lambda: logged(standby, "operator.leading"), 60, what="the standby to take over")
    takeover = time.monotonic() - killed
    measured = scrape(standby.metrics_port).get(("eci_operator_leader_takeover_seconds", ()))
    print(f"\nfailover: {FAILOVER_PODS} pods, takeover {takeover:.1f}s after SIGKILL (lease gap {measured}s)")

    done = await wait_for(
        lambda: _len_at_least(running(), FAILOVER_PODS), 300, what=f"{FAILOVER_PODS} pods Running"
    )
    assert {name: done[name] for name in before if name in done} == before  # adopted: same IPs
    ips = list(done.values())
    assert len(ips) == len(set(ips)), "an IP was given twice"
    groups = await client.CustomObjectsApi(api).list_namespaced_custom_object(
        "eci.ask.dev", "v1alpha1", namespace, "containergroups"
    )
    uids = [g["spec"]["podUid"] for g in groups["items"]]
    assert len(uids) == len(set(uids)) == FAILOVER_PODS  # one ContainerGroup per pod
    assert await ready_since(api, node) == since, f"{node} went NotReady during the failover"
    old = sorted(before)[0]
    # kubectl logs keeps working: the node's port follows the leader, whose runtime adopted the group
    # (output from before the takeover is not kept, as after a restart of a single operator)
    logs = kubectl("logs", "-n", namespace, old, check=False)
    assert logs.returncode == 0, logs.stderr
    assert "running since" in logs.stdout, logs.stdout
    # the same checker as `eci-operator check`
    await invariants_hold(kubeconfig, 60, "after the leader was killed during a scale-up")


async def _len_at_least(value: Any, n: int) -> Any:
    got = await value
    return got if len(got) >= n else None


async def test_sigterm_releases_the_lease_so_the_standby_takes_over_at_its_next_retry(
    api: ApiClient, replicas: Any
) -> None:
    """A rolling update: the leader finishes its writes, releases the Lease, and the standby need not wait
    out the lease duration (its takeover is measured from the release)."""
    leader, standby = replicas
    coordination = client.CoordinationV1Api(api)
    assert leader.stop() == 0
    assert logged(leader, "leader.released")
    await wait_for(lambda: logged(standby, "operator.leading"), 60, what="the standby to take over")
    lease = await coordination.read_namespaced_lease("eci-operator", "kube-system")
    assert lease.spec.holder_identity == standby.identity
    gap = scrape(standby.metrics_port).get(("eci_operator_leader_takeover_seconds", ()))
    print(f"\nhand-over after SIGTERM: the Lease went {gap}s without a holder")
    assert gap is not None
    assert gap < lease.spec.lease_duration_seconds  # measured from the release, not a lease timeout


async def test_a_leader_paused_past_its_lease_exits_on_resume_and_the_new_leader_serves(
    api: ApiClient, namespace: str, make_profile: Any, replicas: Any, kubeconfig: Path
) -> None:
    """No split brain with real processes: the leader is SIGSTOPped, the standby takes over and places a
    pod; on SIGCONT the old leader's writes are fenced, it sees the Lease moved on and exits 1."""
    leader, standby = replicas
    core = client.CoreV1Api(api)
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: ready_since(api, node), 60, what=f"{node} Ready")
    leader.proc.send_signal(signal.SIGSTOP)
    record_fault("sigstop-leader")
    try:
        await wait_for(lambda: logged(standby, "operator.leading"), 60, what="the standby to take over")
        await core.create_namespaced_pod(
            namespace, virtual_pod("after", nodeSelector={"kubernetes.io/hostname": node})
        )

        async def placed() -> bool:
            pod = await core.read_namespaced_pod("after", namespace)
            return pod.status.phase == "Running"

        await wait_for(placed, 60, what="the new leader to place a pod")
    finally:
        leader.proc.send_signal(signal.SIGCONT)
    await wait_for(lambda: leader.proc.poll() is not None, 60, what="the old leader to exit")
    assert leader.proc.returncode == 1, leader.log_tail()
    assert logged(leader, "leader.stopped")
    lease = await client.CoordinationV1Api(api).read_namespaced_lease("eci-operator", "kube-system")
    assert lease.spec.holder_identity == standby.identity
    await invariants_hold(kubeconfig, 60, "after a paused leader resumed")
