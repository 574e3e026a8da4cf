"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and metrics-server.

Same shape as ``kwokctl --runtime binary``: real binaries built by ``cluster/build.sh`` into
``.cluster/bin``, on loopback, no kubelets. ``up`` is idempotent (a running cluster is detected through the
state file and ``/readyz`` and left alone); ``down`` stops exactly the pids that ``up`` recorded. ``make
cluster-up``, ``make run`` and the pytest harness all go through here, so they share one state file and never
clash on ports. After the API server is ready, ``up`` applies the objects that register metrics-server
(``metrics_server.py``) with the built kubectl and the admin kubeconfig.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eci_operator.devcluster import metrics_server, node_network, pki
from eci_operator.devcluster.flags import (
    apiserver_args,
    component_env,
    controller_manager_args,
    etcd_args,
    metrics_server_args,
    scheduler_args,
)
from eci_operator.devcluster.layout import BINARIES, CLIENT_BURST, CLIENT_QPS, COMPONENTS, Layout, Ports
from eci_operator.devcluster.processes import ClusterError, Recorded, alive, port_in_use, start, stop, tail


@dataclass
class State:
    ports: Ports
    components: list[Recorded] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"ports": asdict(self.ports), "components": [asdict(c) for c in self.components]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> State | None:
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return cls(Ports(**body["ports"]), [Recorded(**c) for c in body["components"]])


ARGS: dict[str, Callable[[Layout, Ports], list[str]]] = {
    "etcd": etcd_args,
    "kube-apiserver": apiserver_args,
    "kube-controller-manager": controller_manager_args,
    "kube-scheduler": scheduler_args,
    "metrics-server": metrics_server_args,
}


def default_root() -> Path:
    """``.cluster/`` at the repository root (found from the current directory upwards), or ECI_CLUSTER_DIR."""
    if env := os.environ.get("ECI_CLUSTER_DIR"):
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "cluster" / "versions.env").exists():
            return candidate / ".cluster"
    return here / ".cluster"


class ControlPlane:
    """Start, probe and stop the local control plane rooted at ``root``."""

    def __init__(self, root: Path | None = None, *, say: Callable[[str], None] = print) -> None:
        self.layout = Layout(root or default_root())
        self.say = say

    # ----------------------------------------------------------------------------------------------- status
    def state(self) -> State | None:
        return State.load(self.layout.state_file)

    def running(self) -> bool:
        """True when every component was recorded and runs, and the apiserver answers /readyz.

        A cluster started before a component was added (an older checkout) is not running in this sense:
        ``up`` stops what is left of it and starts it whole.
        """
        state = self.state()
        if state is None or sorted(c.name for c in state.components) != sorted(COMPONENTS):
            return False
        if not all(alive(c) for c in state.components):
            return False
        return self._ready(state.ports.apiserver, "/readyz")

    def status_lines(self) -> list[str]:
        """One line per recorded component (pid, port, running or not), then the metrics APIService."""
        state = self.state()
        if state is None:
            return []
        ports = asdict(state.ports)
        lines = [
            f"{c.name:<24} pid {c.pid:<8} 127.0.0.1:{ports.get(COMPONENTS.get(c.name, ''), '?'):<6} "
            f"{'running' if alive(c) else 'NOT RUNNING'}"
            for c in state.components
        ]
        apiservice = self._metrics_apiservice(state.ports.apiserver)
        if apiservice is not None:
            lines.append(
                f"APIService {metrics_server.APISERVICE}: "
                f"{'Available' if metrics_server.available(apiservice) else 'not Available'}"
            )
        network = node_network.load(self.layout)
        if network is not None:
            lines.append(
                f"{'node-forwarder':<24} pid {network.forwarder.pid:<8} {network.node_address} "
                f"(netns {network.netns}) {'running' if alive(network.forwarder) else 'NOT RUNNING'}"
            )
        return lines

    # ------------------------------------------------------------------------------------------------ up/down
    def up(self, *, timeout: float = 120.0) -> Path:
        """Bring the control plane up (or find it up) and return the admin kubeconfig path."""
        if self.running():
            self.say(f"control plane already running; KUBECONFIG={self.layout.kubeconfig}")
            node_network.up(self.layout, self.say)
            return self.layout.kubeconfig
        old = self.state()
        if old is not None:
            # A half-dead cluster from an earlier run: stop what is left of it before starting anew.
            self._stop_all(old)
        missing = [b for b in BINARIES if not self.layout.binary(b).exists()]
        if missing:
            raise ClusterError(
                f"missing control-plane binaries {', '.join(missing)} in {self.layout.bin}: "
                "run `make cluster-build` (needs Go)"
            )
        ports = Ports.from_env()
        for name, port in asdict(ports).items():
            if port_in_use(port):
                raise ClusterError(
                    f"port {port} ({name}) on 127.0.0.1 is already in use by another program; stop it or set "
                    f"ECI_CLUSTER_{name.upper()}_PORT to a free port"
                )
        pki.ensure_all(self.layout.pki)
        self._write_configs(ports)
        state = State(ports)
        started = time.monotonic()
        deadline = started + timeout
        try:
            self._start(state, "etcd")
            self._wait(state, "etcd", lambda: self._etcd_healthy(ports.etcd), timeout)
            self._start(state, "kube-apiserver")
            self._wait(state, "kube-apiserver", lambda: self._ready(ports.apiserver, "/readyz"), timeout)
            self._start(state, "kube-controller-manager")
            self._start(state, "kube-scheduler")
            # metrics-server reads its request-header settings at start: its RBAC goes first.
            self._apply_metrics_server_objects(ports, deadline)
            self._start(state, "metrics-server")
            for name in ("kube-controller-manager", "kube-scheduler", "metrics-server"):
                self._wait(state, name, self._healthz(getattr(ports, COMPONENTS[name])), timeout)
            # Available needs no node: the aggregator's check is a discovery request to metrics-server.
            self._wait(
                state,
                "metrics-server",
                lambda: self._apiservice_available(ports.apiserver),
                timeout,
                what=f"APIService {metrics_server.APISERVICE} Available",
            )
            node_network.up(self.layout, self.say)
        except BaseException:
            self._stop_all(state)
            raise
        self.say(
            f"control plane ready in {time.monotonic() - started:.1f}s: https://127.0.0.1:{ports.apiserver} "
            f"KUBECONFIG={self.layout.kubeconfig} (logs in {self.layout.logs})"
        )
        return self.layout.kubeconfig

    def restart(self, name: str, *, timeout: float = 120.0) -> None:
        """Stop one component and start it again with the same flags (used by the fault tests)."""
        state = self.state()
        if state is None:
            raise ClusterError("control plane not running (no state file)")
        old = next(c for c in state.components if c.name == name)
        stop(old)
        state.components = [c for c in state.components if c.name != name]
        self._start(state, name)
        self._wait(state, "kube-apiserver", lambda: self._ready(state.ports.apiserver, "/readyz"), timeout)

    def down(self) -> None:
        state = self.state()
        if state is None:
            self.say("control plane not running (no state file)")
            return
        self._stop_all(state)
        self.say("control plane stopped")

    def _stop_all(self, state: State) -> None:
        node_network.down(self.layout)
        for rec in reversed(state.components):
            stop(rec)
        self.layout.state_file.unlink(missing_ok=True)

    def _start(self, state: State, name: str) -> None:
        argv = [str(self.layout.binary(name)), *ARGS[name](self.layout, state.ports)]
        rec = start(name, argv, self.layout.log(name), component_env(name))
        state.components.append(rec)
        state.save(self.layout.state_file)

    def _wait(
        self, state: State, name: str, probe: Callable[[], bool], timeout: float, *, what: str = ""
    ) -> None:
        rec = next(c for c in state.components if c.name == name)
        deadline = time.monotonic() + timeout
        while not probe():
            if not alive(rec):
                raise ClusterError(
                    f"{name} exited during start; read {rec.log}. Last lines:\n{tail(rec.log)}"
                )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{what or name + ' ready'} not seen after {timeout:.0f}s; read {rec.log}. "
                    f"Last lines:\n{tail(rec.log)}"
                )
            time.sleep(0.2)

    def _apply_metrics_server_objects(self, ports: Ports, deadline: float) -> None:
        """``kubectl apply`` metrics-server's RBAC, Service and APIService (retried until ``deadline``)."""
        objects = metrics_server.objects(
            port=ports.metrics_server, ca_bundle=(self.layout.pki / "ca.crt").read_bytes()
        )
        manifest = self.layout.manifests / "metrics-server.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2))
        argv = [
            str(self.layout.binary("kubectl")),
            f"--kubeconfig={self.layout.kubeconfig}",
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=eci-operator-cluster",
            f"--filename={manifest}",
        ]
        while True:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"kubectl could not apply {manifest}: {proc.stderr.strip()}")
            time.sleep(0.5)

    # ---------------------------------------------------------------------------------------------- probes
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.layout.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.layout.pki / "admin.crt"), str(self.layout.pki / "admin.key"))
        return ctx

    def _ready(self, port: int, path: str) -> bool:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}{path}", context=self._ssl_context(), timeout=3
            ) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def _healthz(self, port: int) -> Callable[[], bool]:
        return lambda: self._ready(port, "/healthz")

    def _get_json(self, port: int, path: str) -> dict[str, Any] | None:
        """GET ``path`` as the admin; None when it cannot be read (not there, not up yet)."""
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}{path}", context=self._ssl_context(), timeout=3
            ) as resp:
                body = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ssl.SSLError, ValueError):
            return None
        return body if isinstance(body, dict) else None

    def _metrics_apiservice(self, apiserver_port: int) -> dict[str, Any] | None:
        path = f"/apis/apiregistration.k8s.io/v1/apiservices/{metrics_server.APISERVICE}"
        return self._get_json(apiserver_port, path)

    def _apiservice_available(self, apiserver_port: int) -> bool:
        body = self._metrics_apiservice(apiserver_port)
        return body is not None and metrics_server.available(body)

    @staticmethod
    def _etcd_healthy(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as resp:
                return b'"health":"true"' in resp.read()
        except (urllib.error.URLError, OSError):
            return False

    # ----------------------------------------------------------------------------------------------- configs
    def kubeconfig_text(self, user: str, port: int) -> str:
        d = self.layout.pki
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "eci-local",
                        "cluster": {
                            "server": f"https://127.0.0.1:{port}",
                            "certificate-authority": str(d / "ca.crt"),
                        },
                    }
                ],
                "users": [
                    {
                        "name": user,
                        "user": {
                            "client-certificate": str(d / f"{user}.crt"),
                            "client-key": str(d / f"{user}.key"),
                        },
                    }
                ],
                "contexts": [{"name": "eci-local", "context": {"cluster": "eci-local", "user": user}}],
                "current-context": "eci-local",
            },
            indent=2,
        )

    def _write_configs(self, ports: Ports) -> None:
        self.layout.kubeconfig.write_text(self.kubeconfig_text("admin", ports.apiserver))
        self.layout.kubeconfig.chmod(0o600)
        for user in ("controller-manager", "scheduler", pki.METRICS_SERVER_CLIENT.file_stem):
            path = self.layout.pki / f"{user}.kubeconfig"
            path.write_text(self.kubeconfig_text(user, ports.apiserver))
        sched_config = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {
                "kubeconfig": str(self.layout.pki / "scheduler.kubeconfig"),
                "qps": CLIENT_QPS,
                "burst": CLIENT_BURST,
            },
            "leaderElection": {"leaderElect": False},
        }
        (self.layout.pki / "scheduler-config.json").write_text(json.dumps(sched_config, indent=2))
