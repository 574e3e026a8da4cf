"""The operator's settings, defined once: every default, its flag and its environment variable.

``eci-operator run`` builds its flags from ``FLAGS`` and its ``Settings`` from the parsed flags; tests and
the handler tier build ``Settings`` directly. An environment variable, where a setting has one, gives the
flag's default (``ECI_NODE_ADDRESS``, ``ECI_RESYNC_SECONDS``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from eci_operator.domain import leader


def _env(name: str, default: Any) -> Any:
    raw = os.environ.get(name)
    return default if raw is None else type(default)(raw)


def setting(
    default: Any, help: str, *, flag: bool = True, env: str | None = None, metavar: str | None = None
) -> Any:
    meta = {"help": help, "flag": flag, "env": env, "metavar": metavar}
    if env is not None:
        return field(default_factory=lambda: _env(env, default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Settings:
    workers: int = setting(32, "concurrent reconciles")
    node_address: str = setting(
        "127.0.0.1",
        "InternalIP of the virtual nodes: where the apiserver reaches the operator's kubelet endpoints "
        "(127.0.0.1 for the local control plane; the pod IP when deployed)",
        env="ECI_NODE_ADDRESS",
    )
    kubelet_port_base: int = setting(10250, "first kubelet port (ports in use are skipped)")
    kubelet_socket_dir: str = setting(
        "",
        "also serve each kubelet port on DIR/kubelet-PORT.sock (the local control plane node network "
        "relays the virtual nodes' address to these; empty: off)",
        env="ECI_KUBELET_SOCKET_DIR",
        metavar="DIR",
    )
    metrics_port: int = setting(8081, "Prometheus /metrics port (0 disables)")
    metrics_address: str = setting("0.0.0.0", "address the metrics endpoint binds")
    webhooks: bool = setting(True, "serve and register the admission webhooks (--no-webhooks turns them off)")
    webhook_port: int = setting(9443, "HTTPS port of the admission webhooks")
    webhook_bind_address: str = setting("0.0.0.0", "address the webhook server binds")
    webhook_host: str | None = setting(
        None,
        "host or IP the apiserver uses to reach the webhooks: clientConfig url https://HOST:PORT/... "
        "(default: --node-address; 127.0.0.1 with --kubelet-socket-dir)",
    )
    webhook_service: str | None = setting(
        None,
        "reach the webhooks through this Service (port 443) instead of a URL (e.g. eci-system/eci-operator)",
        metavar="NAMESPACE/NAME",
    )
    ask_configmap: bool = setting(
        True,
        "serve virtual nodes from ASK's kube-system/eci-profile ConfigMap and the VSwitch objects "
        "(--no-ask-configmap: ECIProfiles only)",
    )
    vswitch_status_seconds: float = setting(
        10.0,
        "refresh the VSwitches' addresses in use this often",
        flag=False,
        env="ECI_VSWITCH_STATUS_SECONDS",
    )
    leader_elect: bool = setting(
        True,
        "elect a leader on a coordination.k8s.io Lease; only the leader writes (--no-leader-elect: "
        "this process leads alone)",
    )
    leader_election_namespace: str | None = setting(
        None,
        "namespace of the election Lease (default: the operator's own namespace in a cluster, "
        "kube-system outside one)",
    )
    leader_election_name: str = setting(leader.LEASE_NAME, "name of the election Lease")
    leader_election_identity: str | None = setting(
        None,
        "this replica's holder identity; must be unique among the replicas (default: hostname_uuid, "
        "POD_NAME for hostname when set)",
    )
    leader_election_lease_duration: float = setting(
        leader.LEASE_DURATION_SECONDS,
        "seconds a standby waits, from the last renewal it saw, before taking over",
    )
    leader_election_renew_deadline: float = setting(
        leader.RENEW_DEADLINE_SECONDS,
        "seconds the leader tries to renew before it stops leading (and writing)",
    )
    leader_election_retry_period: float = setting(
        leader.RETRY_PERIOD_SECONDS, "seconds between election attempts and renewals"
    )
    resync_seconds: float = setting(
        60.0, "look at everything again this often", flag=False, env="ECI_RESYNC_SECONDS"
    )
    lease_renew_seconds: float = setting(10.0, "renew node Leases this often", flag=False)
    orphan_grace_seconds: float = setting(30.0, "wait this long for the garbage collector", flag=False)


def flags() -> list[dataclasses.Field[Any]]:
    """The settings that are ``eci-operator run`` flags, in order."""
    return [f for f in dataclasses.fields(Settings) if f.metadata.get("flag")]
