"""``eci-operator run``: serve the cluster of KUBECONFIG (or the in-cluster config) as ASK would."""

from __future__ import annotations

import argparse
import os
from typing import Any

from eci_operator import logs
from eci_operator.handlers.state import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the operator against the cluster of KUBECONFIG (or in-cluster)",
        description="Register virtual nodes for every ECIProfile; run pods bound to them on simulated ECI.",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--workers", type=int, default=32, help="concurrent reconciles (default 32)")
    parser.add_argument(
        "--node-address",
        default=os.environ.get("ECI_NODE_ADDRESS", "127.0.0.1"),
        help="InternalIP of the virtual nodes: where the apiserver reaches the operator's kubelet endpoints "
        "(default 127.0.0.1 for the local control plane; the pod IP when deployed)",
    )
    parser.add_argument(
        "--kubelet-port-base", type=int, default=10250, help="first kubelet port (default 10250)"
    )
    parser.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="Kopf health endpoint (default http://0.0.0.0:8080/healthz; 'off' to disable)",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=8081, help="Prometheus /metrics port (default 8081; 0 disables)"
    )
    parser.add_argument("--metrics-address", default="0.0.0.0", help="address the metrics endpoint binds")
    parser.add_argument(
        "--webhooks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve and register the admission webhooks (default on; --no-webhooks turns them off)",
    )
    parser.add_argument(
        "--webhook-port", type=int, default=9443, help="HTTPS port of the admission webhooks (default 9443)"
    )
    parser.add_argument(
        "--webhook-bind-address", default="0.0.0.0", help="address the webhook server binds (default 0.0.0.0)"
    )
    parser.add_argument(
        "--webhook-host",
        default=None,
        help="host or IP the apiserver uses to reach the webhooks: clientConfig url https://HOST:PORT/... "
        "(default: --node-address, 127.0.0.1 for the local control plane)",
    )
    parser.add_argument(
        "--webhook-service",
        default=None,
        metavar="NAMESPACE/NAME",
        help="reach the webhooks through this Service (port 443) instead of a URL "
        "(e.g. eci-system/eci-operator when deployed)",
    )
    parser.add_argument("--log-format", choices=["auto", "console", "json"], default="auto")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import kopf

    from eci_operator.handlers.app import registry

    logs.configure(args.log_format, verbose=args.verbose)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    settings = Settings(
        workers=args.workers,
        kubelet_port_base=args.kubelet_port_base,
        node_address=args.node_address,
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_address,
        webhooks=args.webhooks,
        webhook_port=args.webhook_port,
        webhook_bind_address=args.webhook_bind_address,
        webhook_host=args.webhook_host,
        webhook_service=args.webhook_service,
    )
    kopf.run(
        registry=registry,
        clusterwide=True,
        standalone=True,
        liveness_endpoint=None if args.liveness == "off" else args.liveness,
        memo=kopf.Memo(settings=settings, kubeconfig=args.kubeconfig),
    )
    return 0
