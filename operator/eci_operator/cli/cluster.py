"""``eci-operator cluster up|down|status``: the local control plane (see ``eci_operator.devcluster``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from eci_operator.devcluster.controlplane import ControlPlane
from eci_operator.devcluster.processes import ClusterError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="start/stop the local control plane (etcd, kube-apiserver, -controller-manager, -scheduler, "
        "metrics-server)",
        description="The local control plane built by `make cluster-build`; state under .cluster/.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start it (idempotent) and print the kubeconfig path")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait per component")
    up.set_defaults(func=_up)
    actions.add_parser("down", help="stop exactly the processes `up` started").set_defaults(func=_down)
    actions.add_parser("status", help="list its processes; exit 0 if it is running and ready").set_defaults(
        func=_status
    )


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _up(args: argparse.Namespace) -> int:
    try:
        ControlPlane(say=_say).up(timeout=args.timeout)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _down(args: argparse.Namespace) -> int:
    del args
    try:
        ControlPlane(say=_say).down()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    del args
    plane = ControlPlane(say=_say)
    running = plane.running()
    _say(f"running; KUBECONFIG={plane.layout.kubeconfig}" if running else "not running")
    for line in plane.status_lines():
        _say(f"  {line}")
    return 0 if running else 1
