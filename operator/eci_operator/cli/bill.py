"""``eci-operator bill``: what the simulated ECI cost, per profile and namespace (recorded + live)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Any

from eci_operator.domain.bill import bill_rows, format_table
from eci_operator.kube import paths
from eci_operator.kube.client import ApiError, KubeClient


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bill",
        help="print the bill of the cluster of KUBECONFIG: per profile and namespace, recorded + live",
        description="Costs of released groups (ECIProfile status) plus live groups up to now, in CNY.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.set_defaults(func=_bill)


async def _fetch(kubeconfig: str | None) -> tuple[list[Any], list[Any]]:
    client = await KubeClient.connect(kubeconfig)
    try:
        profiles = (await client.get(paths.profiles())).get("items", [])
        groups = (await client.get(paths.container_groups())).get("items", [])
    finally:
        await client.close()
    return profiles, groups


def _bill(args: argparse.Namespace) -> int:
    try:
        profiles, groups = asyncio.run(_fetch(args.kubeconfig))
    except (ApiError, OSError) as exc:
        print(f"error: cannot read the cluster: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a kubeconfig that cannot be loaded
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(bill_rows(profiles, groups, dt.datetime.now(dt.UTC))))
    return 0
