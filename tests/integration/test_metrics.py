"""The operator's /metrics move as they should during a small scenario: pods, a stock-out, deletions."""

from __future__ import annotations

from typing import Any

from cluster_helpers import GROUP, VERSION, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, scrape, wait_for


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return sum(
        v
        for (n, ls), v in metrics.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    )


async def test_metrics_follow_a_scenario(
    api: ApiClient, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    core = client.CoreV1Api(api)
    port = operator_process.metrics_port
    profile = await make_profile(simulation={"zones": []})
    zone = zone_of(profile)
    selector = {"topology.kubernetes.io/zone": zone}
    await client.CustomObjectsApi(api).patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        profile["metadata"]["name"],
        {"spec": {"simulation": {"zones": [{"zoneId": zone, "stock": {"2-4Gi": 3}}]}}},
        _content_type="application/merge-patch+json",
    )
    before = scrape(port)
    for i in range(3):
        await core.create_namespaced_pod(namespace, virtual_pod(f"m-{i}", nodeSelector=selector))

    async def three_running() -> dict[Any, float] | None:
        # The group's Running is counted when its status is written; the provisioning time is observed
        # after the pod's Ready write that follows it: wait for both.
        now = scrape(port)
        running = value(now, "eci_operator_container_groups", phase="Running", zone=zone)
        provisioned = value(now, "eci_operator_provisioning_seconds_count") - value(
            before, "eci_operator_provisioning_seconds_count"
        )
        return now if running == 3 and provisioned >= 3 else None

    during = await wait_for(
        three_running, 60, what="3 Running groups and 3 provisioning times in the metrics"
    )
    assert value(during, "eci_operator_stock_remaining", zone=zone, spec="2.0-4.0Gi") == 0
    assert value(during, "eci_operator_zone_available", zone=zone) == 1
    assert value(during, "eci_operator_live_cost_cny", namespace=namespace) > 0

    await core.create_namespaced_pod(namespace, virtual_pod("m-waits", nodeSelector=selector))  # stock-out

    async def one_pending() -> bool:
        return value(scrape(port), "eci_operator_container_groups", phase="Pending", zone=zone) == 1

    await wait_for(one_pending, 30, what="the stocked-out group Pending in the metrics")
    for i in range(3):
        await core.delete_namespaced_pod(f"m-{i}", namespace)

    async def after_deletions() -> dict[Any, float] | None:
        now = scrape(port)
        deleted = value(now, "eci_operator_deletion_seconds_count") - value(
            before, "eci_operator_deletion_seconds_count"
        )
        recorded = value(now, "eci_operator_cost_cny_total", namespace=namespace)
        return now if deleted >= 3 and recorded > 0 else None

    after = await wait_for(after_deletions, 60, what="deletions and recorded cost in the metrics")
    # the freed stock went to the waiting pod
    await wait_for(
        lambda: value(scrape(port), "eci_operator_container_groups", phase="Running", zone=zone) == 1,
        30,
        what="the waiting pod Running on freed stock",
    )
    assert value(after, "eci_operator_api_requests_total", verb="create", resource="containergroups") >= 4
    assert value(after, "eci_operator_lease_renewals_total", outcome="ok") >= value(
        before, "eci_operator_lease_renewals_total", outcome="ok"
    )
