"""An address for the virtual nodes that the apiserver will proxy to: a network namespace of our own.

The apiserver's node proxy (``kubectl get --raw /api/v1/nodes/NODE/proxy/...``) refuses loopback
addresses, and the virtual nodes' InternalIP would be 127.0.0.1 on the local control plane. Where it can
(root, iproute2) ``cluster up`` also creates a network namespace for this cluster, a veth pair into it
(``10.233.K.1`` on this side, ``10.233.K.2`` in it, K from the cluster directory), and
``devcluster.forwarder`` inside it, which relays ``10.233.K.2:<port>`` to the Unix socket the operator
serves for that kubelet port. Nothing outside this machine is involved: the namespace's only link is the
veth pair. ``cluster down`` removes all of it. ``node-network.env`` tells the operator
(``ECI_NODE_ADDRESS``, ``ECI_KUBELET_SOCKET_DIR``); ``make run`` and the test harness read it.
``ECI_CLUSTER_NODE_NETWORK``: ``auto`` (default: the namespace if the machine allows one, else loopback
with a note), ``netns`` (the namespace or an error), ``loopback`` (nodes at 127.0.0.1, no node proxy).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from eci_operator.devcluster.layout import Layout
from eci_operator.devcluster.processes import ClusterError, Recorded, alive, start, stop

ENV_FLAG = "ECI_CLUSTER_NODE_NETWORK"


@dataclass(frozen=True)
class NodeNetwork:
    netns: str
    host_interface: str
    node_address: str
    host_address: str
    sockets: str
    forwarder: Recorded


def mode() -> str:
    value = os.environ.get(ENV_FLAG, "auto") or "auto"
    if value not in ("auto", "netns", "loopback"):
        raise ClusterError(f"{ENV_FLAG}={value!r} is not one of auto, netns, loopback")
    return value


def possible() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _names(layout: Layout) -> tuple[str, str, str, int]:
    digest = hashlib.sha256(str(layout.root.resolve()).encode()).hexdigest()[:6]
    return f"eci-{digest}", f"eci{digest}h", f"eci{digest}n", int(digest, 16) % 250 + 1


def state_file(layout: Layout) -> Path:
    return layout.root / "state" / "node-network.json"


def env_file(layout: Layout) -> Path:
    return layout.root / "node-network.env"


def load(layout: Layout) -> NodeNetwork | None:
    try:
        body = json.loads(state_file(layout).read_text())
        return NodeNetwork(**{**body, "forwarder": Recorded(**body["forwarder"])})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise ClusterError(f"node network: `ip {' '.join(args)}` failed: {proc.stderr.strip()}")


def up(layout: Layout, say: Callable[[str], None]) -> NodeNetwork | None:
    """Create the namespace, the veth pair and the forwarder (or find them up); None on loopback."""
    wanted = mode()
    if wanted == "loopback":
        return None
    current = load(layout)
    if current is not None and alive(current.forwarder) and Path(f"/run/netns/{current.netns}").exists():
        return current
    down(layout)
    if not possible():
        if wanted == "netns":
            raise ClusterError(
                f"{ENV_FLAG}=netns needs root and iproute2's `ip` (to create a network namespace)"
            )
        say(
            "node network: not root or no `ip`: virtual nodes at 127.0.0.1 "
            "(the apiserver's node proxy refuses it)"
        )
        return None
    try:
        return _create(layout, say)
    except ClusterError as exc:
        down(layout)
        if wanted == "netns":
            raise
        say(f"node network: {exc}; virtual nodes at 127.0.0.1 (the apiserver's node proxy refuses it)")
        return None


def _create(layout: Layout, say: Callable[[str], None]) -> NodeNetwork:
    netns, host_if, ns_if, k = _names(layout)
    host, node = f"10.233.{k}.1", f"10.233.{k}.2"
    _ip("netns", "add", netns)
    _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
    _ip("link", "set", ns_if, "netns", netns)
    _ip("addr", "add", f"{host}/30", "dev", host_if)
    _ip("link", "set", host_if, "up")
    _ip("-n", netns, "addr", "add", f"{node}/30", "dev", ns_if)
    _ip("-n", netns, "link", "set", ns_if, "up")
    _ip("-n", netns, "link", "set", "lo", "up")
    sockets = layout.root / "kubelet-sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "eci_operator.devcluster.forwarder"]
    argv += ["--netns", netns, "--address", node, "--sockets", str(sockets)]
    forwarder = start("node-forwarder", argv, layout.log("node-forwarder"))
    network = NodeNetwork(netns, host_if, node, host, str(sockets), forwarder)
    state_file(layout).parent.mkdir(parents=True, exist_ok=True)
    state_file(layout).write_text(json.dumps(asdict(network), indent=2))
    env_file(layout).write_text(f"ECI_NODE_ADDRESS={node}\nECI_KUBELET_SOCKET_DIR={sockets}\n")
    say(f"node network: virtual nodes at {node} (network namespace {netns}), relayed to {sockets}")
    return network


def down(layout: Layout) -> None:
    """Stop the forwarder and remove the namespace (its veth pair goes with it)."""
    current = load(layout)
    if current is not None:
        stop(current.forwarder)
    netns, host_if, _, _ = _names(layout)
    if Path(f"/run/netns/{netns}").exists():
        _ip("netns", "del", netns)
    if Path(f"/sys/class/net/{host_if}").exists():  # left by a half-made network (gone with the namespace)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30, check=False)
    state_file(layout).unlink(missing_ok=True)
    env_file(layout).unlink(missing_ok=True)
