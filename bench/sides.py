"""The two controllers under comparison, behind one small interface: ours (eci-operator) and KWOK.

Each side owns a node (ours: the virtual node of the ``bench`` ECIProfile; KWOK: a fake node it manages by
annotation), says where a pod must be placed to land on that node (``spec.nodeName`` for the "bound"
scenario, a nodeSelector plus a toleration for the "deployment" one), starts and stops its controller as a
child process (one at a time: the harness never runs both), and says when it has settled after a phase.
Ours also reports its own request counts from its /metrics; KWOK has no such counter, so its requests are
read at the API server only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from burst import burst_profile
from kube import Api, ApiError
from measure import operator_requests, proc_sample, prom_value

PROFILE = "bench"
ZONE = "cn-bench-a"
OUR_NODE = f"virtual-kubelet-{ZONE}"
KWOK_NODE = "kwok-bench-0"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
# Node size as ours publishes it (README): enough for a 10,000-pod rehearsal on one node.
CAPACITY = {"cpu": "20480", "memory": "80Ti", "pods": "20480", "ephemeral-storage": "100Ti"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Side:
    """One controller: ``prepare`` once, then ``start``/``stop`` around every measurement."""

    name = ""
    node = ""

    def __init__(self, api: Api, kubeconfig: Path, bin_dir: Path, log_dir: Path) -> None:
        self.api = api
        self.kubeconfig = kubeconfig
        self.bin_dir = bin_dir
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def prepare(self) -> None:
        """Create what the side needs once (profile, fake node)."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def placement(self, scenario: str) -> dict[str, Any]:
        """Pod spec fields that put a pod on this side's node."""
        raise NotImplementedError

    def _spawn(self, tag: str) -> None:
        log = self.log_dir / f"{self.name}-{tag}.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT)
        self.log = log
        if os.environ.get("BENCH_PYSPY") and self.name == "ours":
            # Profile the operator (py-spy from the bench extra): folded stacks next to its log.
            pyspy = str(Path(sys.executable).parent / "py-spy")
            folded = str(log.with_suffix(".folded"))
            argv = [pyspy, "record", "--pid", str(self.proc.pid), "--rate", "200", "--format", "raw"]
            self.profiler = subprocess.Popen(
                [*argv, "--nonblocking", "-o", folded],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    async def start(self, tag: str) -> None:
        self._spawn(tag.replace(" ", "-"))
        t0 = time.monotonic()
        await self._wait_started()
        t1 = time.monotonic()
        await self.wait_node_ready()
        self.started_s = (round(t1 - t0, 2), round(time.monotonic() - t1, 2))

    async def _wait_started(self) -> None:
        pass

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 10)
        if self.profiler is not None:
            await asyncio.to_thread(self.profiler.wait, 30)
            self.profiler = None

    def alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{self.name} controller exited; last log lines:\n{tail}")

    async def wait_node_ready(self, timeout: float = 120, node_name: str = "") -> None:
        """Ready=True and none of the node lifecycle controller's taints (left from when it was stopped)."""
        deadline = time.monotonic() + timeout
        name = node_name or self.node
        while True:
            self.alive()
            try:
                node = await self.api.get(f"/api/v1/nodes/{name}")
                ready = any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in node.get("status", {}).get("conditions") or []
                )
                tainted = any(
                    t["key"].startswith("node.kubernetes.io/") for t in node["spec"].get("taints") or []
                )
                if ready and not tainted:
                    return
            except ApiError as exc:
                if exc.status != 404:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {name} not Ready and untainted after {timeout:.0f}s")
            await asyncio.sleep(0.5)

    def own_requests(self) -> Counter[tuple[str, str]] | None:
        """The controller's own count of its API requests, if it keeps one."""
        return None

    def busy(self) -> bool:
        """Work the controller still has queued (beyond what its CPU shows)."""
        return False

    async def settle(self, *, quiet_cpu: float = 0.05, window: float = 0.5, timeout: float = 30) -> float:
        """Wait until the controller has nothing queued and uses < ``quiet_cpu`` of a core; return the
        time waited."""
        start = time.monotonic()
        last = proc_sample(self.pid).cpu_s
        while time.monotonic() - start < timeout:
            await asyncio.sleep(window)
            now = proc_sample(self.pid).cpu_s
            if now - last < quiet_cpu * window and not await asyncio.to_thread(self.busy):
                break
            last = now
        return time.monotonic() - start


class Ours(Side):
    name = "ours"
    node = OUR_NODE

    def __init__(self, *args: Any, extra_args: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics_port = 0
        self.extra_args = extra_args

    async def prepare(self) -> None:
        body = {
            "apiVersion": "eci.ask.dev/v1alpha1",
            "kind": "ECIProfile",
            "metadata": {"name": PROFILE},
            "spec": {
                "regionId": "cn-bench",
                "vpcId": "vpc-bench",
                "securityGroupId": "sg-bench",
                # a /16, the largest mask a vSwitch may have: 65,532 usable addresses
                "vSwitches": [{"id": "vsw-bench-a", "zoneId": ZONE, "cidr": "10.128.0.0/16"}],
                "virtualNodeTaint": True,
                # the bound and deployment scenarios run without image pulls, as KWOK has none
                "simulation": {"imagePulls": {"enabled": False}},
            },
        }
        for profile in (body, burst_profile()):
            await self.api.request(
                "POST", "/apis/eci.ask.dev/v1alpha1/eciprofiles", profile, ok=(409,), resource="eciprofiles"
            )

    def argv(self) -> list[str]:
        self.metrics_port = free_port()
        exe = Path(sys.executable).parent / "eci-operator"
        return [
            str(exe),
            "run",
            f"--kubeconfig={self.kubeconfig}",
            "--liveness=off",
            "--log-format=json",
            f"--metrics-port={self.metrics_port}",
            "--metrics-address=127.0.0.1",
            f"--kubelet-port-base={free_port()}",
            # Admission webhooks are not on the pod's path to Ready here (KWOK has none either).
            "--no-webhooks",
            *self.extra_args,
        ]

    async def _wait_started(self) -> None:
        deadline = time.monotonic() + 60
        while b'"operator.synced"' not in self.log.read_bytes():
            self.alive()
            if time.monotonic() > deadline:
                raise TimeoutError("the operator did not sync within 60s")
            await asyncio.sleep(0.2)

    def placement(self, scenario: str) -> dict[str, Any]:
        if scenario == "bound":
            return {"nodeName": self.node}
        return {
            "nodeSelector": {"type": "virtual-kubelet", "topology.kubernetes.io/zone": ZONE},
            "tolerations": [
                {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}
            ],
        }

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def own_requests(self) -> Counter[tuple[str, str]]:
        return operator_requests(self.metrics())

    def events_posted(self) -> int:
        text = self.metrics()
        for line in text.splitlines():
            if line.startswith('eci_operator_events_total{outcome="posted"}'):
                return int(float(line.split()[-1]))
        return 0

    def busy(self) -> bool:
        return prom_value(self.metrics(), "eci_operator_queue_depth") > 0


class Kwok(Side):
    name = "kwok"
    node = KWOK_NODE

    async def prepare(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node,
                "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": self.node,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent",
                },
            },
            "spec": {"taints": [{"key": KWOK_ANNOTATION, "value": "fake", "effect": "NoSchedule"}]},
            "status": {"allocatable": CAPACITY, "capacity": CAPACITY},
        }
        await self.api.request("POST", "/api/v1/nodes", body, ok=(409,), resource="nodes")

    def argv(self) -> list[str]:
        return [
            str(self.bin_dir / "kwok"),
            f"--kubeconfig={self.kubeconfig}",
            f"--config={self.bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            "--cidr=10.64.0.1/14",
            "--node-ip=10.63.0.1",
            f"--server-address=127.0.0.1:{free_port()}",
            "--node-lease-duration-seconds=40",
        ]

    async def _wait_started(self) -> None:
        """KWOK logs its node lease sync once its controllers run."""
        deadline = time.monotonic() + 60
        while b"lease" not in self.log.read_bytes().lower():
            self.alive()
            if time.monotonic() > deadline:
                raise TimeoutError("kwok did not start its controllers within 60s")
            await asyncio.sleep(0.2)

    def placement(self, scenario: str) -> dict[str, Any]:
        if scenario == "bound":
            return {"nodeName": self.node}
        return {
            "nodeSelector": {"type": "kwok"},
            "tolerations": [{"key": KWOK_ANNOTATION, "operator": "Exists", "effect": "NoSchedule"}],
        }


def make_side(name: str, api: Api, kubeconfig: Path, bin_dir: Path, log_dir: Path) -> Side:
    extra = tuple(json.loads(os.environ.get("BENCH_OPERATOR_ARGS", "[]")))
    if name == "ours":
        return Ours(api, kubeconfig, bin_dir, log_dir, extra_args=extra)
    if name == "kwok":
        return Kwok(api, kubeconfig, bin_dir, log_dir)
    raise ValueError(f"unknown side {name!r} (ours, kwok)")
