"""``eci-operator check``: the operator's invariants on the cluster of KUBECONFIG, once (0 = none broken)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Any

from eci_operator.domain.invariants import DEFAULT_GRACE, Violation, check
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check the operator's invariants on the cluster of KUBECONFIG; exit 0 when none is violated",
        description="Every pod on a virtual node has one ContainerGroup with its uid; no group without its "
        "pod; no IP assigned twice among live groups; nothing stuck Terminating; virtual nodes Ready unless "
        "their zone is down; pod status agrees with its group. Work in flight gets a grace period.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE.total_seconds(),
        help="seconds allowed for work in flight",
    )
    parser.set_defaults(func=_check)


async def snapshot(kubeconfig: str | None) -> dict[str, list[Any]]:
    client = await KubeClient.connect(kubeconfig)
    try:
        return {
            "pods": (await client.get(paths.pods(), fieldSelector="spec.nodeName!=")).get("items", []),
            "groups": (await client.get(paths.container_groups())).get("items", []),
            "nodes": (await client.get(paths.nodes())).get("items", []),
            "profiles": (await client.get(paths.profiles())).get("items", []),
        }
    finally:
        await client.close()


def violations(snap: dict[str, list[Any]], grace: float) -> list[Violation]:
    return check(
        snap["pods"],
        snap["groups"],
        snap["nodes"],
        snap["profiles"],
        dt.datetime.now(dt.UTC),
        grace=dt.timedelta(seconds=grace),
    )


def _check(args: argparse.Namespace) -> int:
    try:
        snap = asyncio.run(snapshot(args.kubeconfig))
    except Exception as exc:
        print(f"error: cannot read the cluster: {exc}", file=sys.stderr)
        return 1
    found = violations(snap, args.grace)
    for violation in found:
        print(violation)
    print(
        f"checked {len(snap['pods'])} bound pods, {len(snap['groups'])} ContainerGroups, "
        f"{len(snap['nodes'])} nodes: {len(found)} violation(s)"
    )
    return 1 if found else 0
