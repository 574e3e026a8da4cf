"""Where the local control plane keeps everything, and the ports it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "metrics-server",
    "kubectl",
)
# The processes ``cluster up`` starts, in start order, each with the Ports field it listens on.
COMPONENTS = {
    "etcd": "etcd",
    "kube-apiserver": "apiserver",
    "kube-controller-manager": "controller_manager",
    "kube-scheduler": "scheduler",
    "metrics-server": "metrics_server",
}
# Client QPS for controller-manager and scheduler: their defaults (20/30 and 50/100) throttle scale tests.
CLIENT_QPS, CLIENT_BURST = 1000, 2000
SERVICE_CIDR = "10.96.0.0/16"


@dataclass(frozen=True)
class Ports:
    etcd: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 6443
    controller_manager: int = 10257
    scheduler: int = 10259
    # metrics-server's historical port: clear of the control plane's and of the virtual nodes' kubelet
    # ports (10250 upwards, one per node), and below the ephemeral range (32768+).
    metrics_server: int = 4443

    @classmethod
    def from_env(cls) -> Ports:
        """``ECI_CLUSTER_APISERVER_PORT`` etc. move a port, e.g. when a kind cluster already holds 6443."""
        values = {}
        for name in cls.__dataclass_fields__:
            raw = os.environ.get(f"ECI_CLUSTER_{name.upper()}_PORT")
            if raw:
                values[name] = int(raw)
        return cls(**values)


@dataclass
class Layout:
    """Where everything lives under ``.cluster/`` (gitignored)."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def manifests(self) -> Path:
        """Objects the control plane applies itself (metrics-server's registration), kept for reading."""
        return self.root / "manifests"

    @property
    def state_file(self) -> Path:
        return self.root / "state" / "controlplane.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def binary(self, name: str) -> Path:
        return self.bin / name

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"
