"""``eci-operator run``: serve the cluster of KUBECONFIG (or the in-cluster config) as ASK would.

Its flags are the operator's settings (``handlers.settings``), defined once there.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from typing import Any

from eci_operator import logs
from eci_operator.domain import leader
from eci_operator.handlers.settings import Settings, flags


def _flag(field: dataclasses.Field[Any]) -> str:
    return "--" + field.name.replace("_", "-")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the operator against the cluster of KUBECONFIG (or in-cluster)",
        description="Register virtual nodes for every ECIProfile; run pods bound to them on simulated ECI.",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    defaults = Settings()
    for field in flags():
        default = getattr(defaults, field.name)
        help_text = field.metadata["help"] + (f" (default {default})" if default is not None else "")
        if isinstance(default, bool):
            parser.add_argument(
                _flag(field), action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        else:
            kind = str if default is None else type(default)
            parser.add_argument(
                _flag(field),
                type=kind,
                default=default,
                help=help_text,
                metavar=field.metadata.get("metavar"),
            )
    parser.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="Kopf health endpoint (default http://0.0.0.0:8080/healthz; 'off' to disable)",
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
    settings = Settings(**{f.name: getattr(args, f.name) for f in flags()})
    try:
        leader.validate_durations(
            settings.leader_election_lease_duration,
            settings.leader_election_renew_deadline,
            settings.leader_election_retry_period,
        )
    except ValueError as exc:
        print(f"eci-operator run: {exc}", file=sys.stderr)
        return 2
    # Set (on the operator's loop) when this replica loses the leader election Lease. An asyncio.Event:
    # Kopf would wait for a threading.Event in an executor thread that outlives the loop.
    stop_flag = asyncio.Event()
    memo = kopf.Memo(settings=settings, kubeconfig=args.kubeconfig, stop_flag=stop_flag)
    kopf.run(
        registry=registry,
        clusterwide=True,
        standalone=True,
        liveness_endpoint=None if args.liveness == "off" else args.liveness,
        memo=memo,
        stop_flag=stop_flag,
    )
    if memo.get("lost_leadership"):
        print("eci-operator: lost the leader election Lease; exiting so a restart comes back as a standby")
        return 1
    return 0
