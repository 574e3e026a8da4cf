"""`cluster up` is idempotent, `cluster down` leaves no process, and start failures are one clear line.

These run a second, throw-away control plane on other ports under a temporary ECI_CLUSTER_DIR, through the
installed console script, exactly as `make cluster-up` / `make cluster-down` do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eci_operator.devcluster.processes import Recorded, alive

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "eci-operator")
PORTS = {
    "ETCD": 25790,
    "ETCD_PEER": 25800,
    "APISERVER": 26443,
    "CONTROLLER_MANAGER": 20257,
    "SCHEDULER": 20259,
    "METRICS_SERVER": 24443,
}


@pytest.fixture
def second_cluster(tmp_path: Path) -> Iterator[dict[str, str]]:
    root = tmp_path / "cluster"
    root.mkdir()
    (root / "bin").symlink_to(REPO / ".cluster" / "bin")
    env = dict(os.environ, ECI_CLUSTER_DIR=str(root))
    env.update({f"ECI_CLUSTER_{k}_PORT": str(v) for k, v in PORTS.items()})
    yield env
    subprocess.run([CLI, "cluster", "down"], env=env, capture_output=True, timeout=120)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "cluster", *args], env=env, capture_output=True, text=True, timeout=300)


def _recorded(env: dict[str, str]) -> list[Recorded]:
    state = Path(env["ECI_CLUSTER_DIR"]) / "state" / "controlplane.json"
    return [Recorded(**c) for c in json.loads(state.read_text())["components"]]


def test_up_twice_is_a_no_op_and_down_leaves_nothing(second_cluster: dict[str, str]) -> None:
    first = _cli(second_cluster, "up")
    assert first.returncode == 0, first.stderr
    components = _recorded(second_cluster)
    assert [c.name for c in components] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "metrics-server",
    ]
    assert all(alive(c) for c in components)

    started = time.monotonic()
    second = _cli(second_cluster, "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert time.monotonic() - started < 30  # "returns within seconds": no component was restarted
    assert [c.pid for c in _recorded(second_cluster)] == [c.pid for c in components]

    status = _cli(second_cluster, "status")
    assert status.returncode == 0, status.stderr
    assert f"metrics-server           pid {components[-1].pid}" in status.stderr
    assert "APIService v1beta1.metrics.k8s.io: Available" in status.stderr
    down = _cli(second_cluster, "down")
    assert down.returncode == 0, down.stderr
    assert not any(alive(c) for c in components)
    assert _cli(second_cluster, "status").returncode == 1


def test_port_in_use_is_one_clear_error_and_nothing_is_left_running(second_cluster: dict[str, str]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", PORTS["APISERVER"]))
        blocker.listen()
        result = _cli(second_cluster, "up")
    assert result.returncode == 1
    assert f"port {PORTS['APISERVER']} (apiserver)" in result.stderr
    assert not (Path(second_cluster["ECI_CLUSTER_DIR"]) / "state" / "controlplane.json").exists()


def test_component_dying_at_start_names_its_log(second_cluster: dict[str, str]) -> None:
    # etcd refuses a data dir that is a file: the error must name etcd and its log, and stop what started.
    root = Path(second_cluster["ECI_CLUSTER_DIR"])
    (root / "data").mkdir()
    (root / "data" / "etcd").write_text("not a directory")
    result = _cli(second_cluster, "up", "--timeout", "30")
    assert result.returncode == 1
    assert "etcd" in result.stderr
    assert str(root / "logs" / "etcd.log") in result.stderr
    assert not (root / "state" / "controlplane.json").exists()
