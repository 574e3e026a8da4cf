"""The benchmark's ``burst`` scenario in small (N = 3, ours only) so it cannot rot.

Real: the session's control plane with metrics-server and the HPA controller, the operator as a process,
the benchmark's own burst driver (``bench/burst.py``: Deployment, HPA, Load step, ImageCache). Asserted:
both variants (with and without an ImageCache) reach N Ready after an HPA decision, with a cost and a time
series; never a timing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import OperatorProcess, wait_for

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from burst import BURST_NODE, BURST_PROFILE, BurstRun, burst_profile  # noqa: E402
from kube import Api  # noqa: E402

N = 3


@pytest.mark.timeout(420)
async def test_a_small_burst_runs_end_to_end_with_and_without_an_image_cache(
    kubeconfig: Path, operator_process: OperatorProcess
) -> None:
    async with Api(kubeconfig, connections=8) as api:
        profiles = "/apis/eci.ask.dev/v1alpha1/eciprofiles"
        await api.request("POST", profiles, burst_profile(cacheBuildOverheadSeconds=2), ok=(409,))
        try:

            async def node_ready() -> bool:
                body = await api.request("GET", f"/api/v1/nodes/{BURST_NODE}", ok=(404,))
                conditions = body.get("status", {}).get("conditions") or []
                return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

            await wait_for(node_ready, 60, what=f"virtual node {BURST_NODE} Ready")
            runs: dict[bool, dict[str, Any]] = {}
            for cached in (False, True):
                run = BurstRun(
                    api,
                    N,
                    label=f"smoke {cached}",
                    cached=cached,
                    components={},
                    pid=operator_process.proc.pid,
                    say=print,
                )
                runs[cached] = await run.run()
        finally:
            await api.request("DELETE", f"{profiles}/{BURST_PROFILE}", ok=(404,))
    for cached, figures in runs.items():
        create = figures["create"]
        assert create["complete"], (cached, create)
        assert create["pods"] == N, (cached, create)
        assert create["first_decision_s"] is not None, create
        assert create["decisions"][-1][1] == N, create
        assert create["n_created_s"] is not None
        assert create["cost_cny"] > 0
        assert create["series"][-1]["ready"] >= N
        assert figures["delete"]["complete"]
    assert runs[True]["imagecache_ready_s"] > 0
