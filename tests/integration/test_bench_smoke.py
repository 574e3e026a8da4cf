"""The scale benchmark in small (``make bench``'s "bound" scenario, 100 pods, ours only) so it cannot rot.

Real: the session's control plane and operator, the benchmark's own client, pod template and watch
(``bench/kube.py``, ``bench/scenario.py``, ``bench/measure.py``). Figures are asserted for sanity, never
timings: every pod Ready and then gone, and exactly 2 operator writes per pod on the happy path
(ContainerGroup create with its status, pods/status), counted by the operator itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import OperatorProcess, wait_for

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from kube import Api, PodTracker, bounded  # noqa: E402
from measure import delta, operator_requests  # noqa: E402
from scenario import pod_body  # noqa: E402

N = 100
POD_WRITES = ("create containergroups", "patch pods/status")


def _own_requests(port: int) -> Any:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return operator_requests(resp.read().decode())


@pytest.mark.timeout(120)
async def test_hundred_bound_pods_ready_with_two_writes_each(
    kubeconfig: Path, operator_process: OperatorProcess, make_profile: Any, namespace: str
) -> None:
    profile = await make_profile()
    node = f"virtual-kubelet-{profile['spec']['vSwitches'][0]['zoneId']}"
    started = time.monotonic()
    async with Api(kubeconfig, connections=40) as api:

        async def node_ready() -> bool:
            body = await api.get(f"/api/v1/nodes/{node}")
            conditions = body.get("status", {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        await wait_for(node_ready, 30, what=f"virtual node {node} Ready")
        tracker = PodTracker(api, namespace)
        await tracker.start()
        before = _own_requests(operator_process.metrics_port)
        path = f"/api/v1/namespaces/{namespace}/pods"

        def create(i: int) -> Any:
            async def job() -> None:
                await api.request("POST", path, pod_body(f"bench-{i:03d}", {"nodeName": node}))

            return job

        await bounded((create(i) for i in range(N)), 32)
        await wait_for(lambda: len(tracker.ready_at) == N or tracker.check(), 45, what=f"{N} pods Ready")
        own = delta(_own_requests(operator_process.metrics_port), before)

        def remove(name: str) -> Any:
            async def job() -> None:
                await api.request("DELETE", f"{path}/{name}", ok=(404,))

            return job

        await bounded((remove(name) for name in sorted(tracker.ready_at)), 32)
        await wait_for(lambda: len(tracker.deleted_at) == N or tracker.check(), 45, what=f"{N} pods gone")
        await tracker.stop()

    assert sorted(tracker.ready_at) == [f"bench-{i:03d}" for i in range(N)]
    for key in POD_WRITES:
        assert own.get(key) == N, f"{key}: {own.get(key)} for {N} pods; all requests: {own}"
    other_writes = {
        k: n
        for k, n in own.items()
        if k.split()[0] in ("create", "update", "patch", "delete")
        and k not in POD_WRITES
        and k.split()[1] not in ("events", "leases", "nodes", "nodes/status", "eciprofiles/status")
    }
    assert not other_writes, f"unexpected writes on the happy path: {other_writes}"
    assert time.monotonic() - started < 60
