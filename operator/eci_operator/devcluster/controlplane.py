"""The local control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

Same shape as ``kwokctl --runtime binary``: real binaries built by ``cluster/build.sh`` into
``.cluster/bin``, no kubelets. ``up`` is idempotent (a running cluster is detected through the state file and
``/readyz`` and left alone); ``down`` stops exactly the pids that ``up`` recorded. ``make cluster-up``, ``make
run`` and the pytest harness all go through here, so they share one state file and never clash on ports.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eci_operator.devcluster import pki
from eci_operator.devcluster.flags import (
    apiserver_args,
    component_env,
    controller_manager_args,
    etcd_args,
    scheduler_args,
)
from eci_operator.devcluster.layout import BINARIES, CLIENT_BURST, CLIENT_QPS, Layout, Ports
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
        """True when every recorded component runs and the apiserver answers /readyz."""
        state = self.state()
        if state is None or not state.components:
            return False
        if not all(alive(c) for c in state.components):
            return False
        return self._ready(state.ports.apiserver, "/readyz")

    # ------------------------------------------------------------------------------------------------ up/down
    def up(self, *, timeout: float = 120.0) -> Path:
        """Bring the control plane up (or find it up) and return the admin kubeconfig path."""
        if self.running():
            self.say(f"control plane already running; KUBECONFIG={self.layout.kubeconfig}")
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
        self._ensure_pki()
        self._write_configs(ports)
        state = State(ports)
        started = time.monotonic()
        try:
            self._start(state, "etcd", etcd_args(self.layout, ports))
            self._wait(state, "etcd", lambda: self._etcd_healthy(ports.etcd), timeout)
            self._start(state, "kube-apiserver", apiserver_args(self.layout, ports))
            self._wait(state, "kube-apiserver", lambda: self._ready(ports.apiserver, "/readyz"), timeout)
            self._start(state, "kube-controller-manager", controller_manager_args(self.layout, ports))
            self._start(state, "kube-scheduler", scheduler_args(self.layout, ports))
            self._wait(
                state,
                "kube-controller-manager",
                lambda: self._ready(ports.controller_manager, "/healthz"),
                timeout,
            )
            self._wait(state, "kube-scheduler", lambda: self._ready(ports.scheduler, "/healthz"), timeout)
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
        args = {
            "etcd": etcd_args,
            "kube-apiserver": apiserver_args,
            "kube-controller-manager": controller_manager_args,
            "kube-scheduler": scheduler_args,
        }[name](self.layout, state.ports)
        old = next(c for c in state.components if c.name == name)
        stop(old)
        state.components = [c for c in state.components if c.name != name]
        self._start(state, name, args)
        self._wait(state, "kube-apiserver", lambda: self._ready(state.ports.apiserver, "/readyz"), timeout)

    def down(self) -> None:
        state = self.state()
        if state is None:
            self.say("control plane not running (no state file)")
            return
        self._stop_all(state)
        self.say("control plane stopped")

    def _stop_all(self, state: State) -> None:
        for rec in reversed(state.components):
            stop(rec)
        self.layout.state_file.unlink(missing_ok=True)

    def _start(self, state: State, name: str, args: list[str]) -> None:
        rec = start(name, [str(self.layout.binary(name)), *args], self.layout.log(name), component_env(name))
        state.components.append(rec)
        state.save(self.layout.state_file)

    def _wait(self, state: State, name: str, probe: Callable[[], bool], timeout: float) -> None:
        rec = next(c for c in state.components if c.name == name)
        deadline = time.monotonic() + timeout
        while not probe():
            if not alive(rec):
                raise ClusterError(
                    f"{name} exited during start; read {rec.log}. Last lines:\n{tail(rec.log)}"
                )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name} not ready after {timeout:.0f}s; read {rec.log}. Last lines:\n{tail(rec.log)}"
                )
            time.sleep(0.2)

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

    @staticmethod
    def _etcd_healthy(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as resp:
                return b'"health":"true"' in resp.read()
        except (urllib.error.URLError, OSError):
            return False

    # ------------------------------------------------------------------------------------------ pki, configs
    def _ensure_pki(self) -> None:
        d = self.layout.pki
        ca = pki.ensure_ca(d)
        pki.issue(
            ca,
            d,
            "apiserver",
            common_name="kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.96.0.1"),
            server=True,
        )
        for ident in pki.CLIENTS:
            pki.issue(
                ca,
                d,
                ident.file_stem,
                common_name=ident.common_name,
                organizations=ident.organizations,
                client=True,
            )
        # controller-manager and scheduler serve /healthz on their own secure ports.
        for stem in ("controller-manager-serving", "scheduler-serving"):
            pki.issue(
                ca,
                d,
                stem,
                common_name=stem,
                dns_names=("localhost",),
                ip_addresses=("127.0.0.1",),
                server=True,
            )
        pki.ensure_service_account_keys(d)

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
        for user in ("controller-manager", "scheduler"):
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
