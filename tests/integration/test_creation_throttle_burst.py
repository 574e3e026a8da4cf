"""A burst under a profile's creation token bucket on the real control plane: 100 pods, a bucket of 10
refilled at 10 per second (slower than the pods arrive), take at least (100 - 10) / 10 = 9 s to be
created — read from the creation times the model recorded in the ContainerGroups, never from wall-clock
races — and the pods that waited said why (a Warning ``Throttling``)."""

from __future__ import annotations

import asyncio
from typing import Any

from cluster_helpers import GROUP, VERSION, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from eci_operator.domain.kubetime import parse_time
from helpers import wait_for

PODS, BURST, PER_SECOND = 100, 10, 10.0


async def test_a_burst_of_100_pods_under_the_token_bucket_takes_at_least_the_documented_time(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    limit = {"enabled": True, "burst": BURST, "perSecond": PER_SECOND}
    profile = await make_profile(simulation={"creationRateLimit": limit})
    selector = {"topology.kubernetes.io/zone": zone_of(profile)}
    names = [f"t{i:03d}" for i in range(PODS)]
    gate = asyncio.Semaphore(16)

    async def create(name: str) -> None:
        async with gate:
            await core.create_namespaced_pod(namespace, virtual_pod(name, nodeSelector=selector))

    await asyncio.gather(*(create(n) for n in names))

    async def created() -> list[dict[str, Any]] | None:
        listed = await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "containergroups")
        statuses = [dict(g.get("status") or {}) for g in listed["items"]]
        done = [s for s in statuses if s.get("instanceCreatedAt")]
        return done if len(done) == PODS else None

    statuses = await wait_for(created, 90, what=f"{PODS} ContainerGroups with an instance")
    times = sorted(parse_time(s["instanceCreatedAt"]).timestamp() for s in statuses)
    spread = times[-1] - times[0]
    assert spread >= (PODS - BURST) / PER_SECOND - 0.05, spread
    # the bucket's law over every stretch: at most BURST + PER_SECOND x its length created in it
    worst = max(
        (j - i + 1) - (BURST + PER_SECOND * (times[j] - times[i]))
        for i in range(PODS)
        for j in range(i, PODS)
    )
    assert worst <= 0.5, worst
    waited = [
        parse_time(s["instanceCreatedAt"]) - parse_time(s["scheduledAt"])
        for s in statuses
        if s.get("scheduledAt")
    ]
    arrivals = sorted(parse_time(s["scheduledAt"]).timestamp() for s in statuses)
    print(f"created over {spread:.2f}s, asked over {arrivals[-1] - arrivals[0]:.2f}s, waited {max(waited)}")
    assert max(waited).total_seconds() > 0.5  # groups asked faster than the bucket refills: some waited

    async def warned() -> bool:
        events = await core.list_namespaced_event(namespace, field_selector="reason=Throttling")
        return any("Throttling.User" in (e.message or "") for e in events.items)

    await wait_for(warned, 30, what="a Warning Event Throttling on a pod that waited")
