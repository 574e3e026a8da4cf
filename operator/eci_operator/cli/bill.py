"""``eci-operator bill``: what the simulated ECI cost, per profile and namespace (recorded + live), and
for the pods running now the vCPU billed against the vCPU used (from metrics.k8s.io, when served)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import Any

from eci_operator.domain.bill import bill_rows, format_table
from eci_operator.domain.utilisation import format_utilisation, pod_usage, utilisation_rows
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


POD_METRICS = "/apis/metrics.k8s.io/v1beta1/pods"


async def _fetch(kubeconfig: str | None) -> tuple[list[Any], list[Any], list[Any] | None]:
    client = await KubeClient.connect(kubeconfig)
    try:
        profiles = (await client.get(paths.profiles())).get("items", [])
        groups = (await client.get(paths.container_groups())).get("items", [])
        try:  # vCPU used needs a metrics-server; without one the bill is printed alone
            usage: list[Any] | None = (await client.get(POD_METRICS)).get("items", [])
        except ApiError:
            usage = None
    finally:
        await client.close()
    return profiles, groups, usage


def _bill(args: argparse.Namespace) -> int:
    try:
        profiles, groups, usage = asyncio.run(_fetch(args.kubeconfig))
    except (ApiError, OSError) as exc:
        print(f"error: cannot read the cluster: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a kubeconfig that cannot be loaded
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(bill_rows(profiles, groups, dt.datetime.now(dt.UTC))))
    if usage is None:
        print("\n(vCPU used against billed needs metrics.k8s.io: no metrics-server answered)")
    else:
        print("\nRunning now: vCPU billed (the instances' spec) against vCPU used (metrics.k8s.io)")
        print(format_utilisation(utilisation_rows(groups, pod_usage(usage))))
    return 0
