"""What a pod costs in API writes, by verb and resource, and how the ContainerGroup is recorded (issue #18).

The record is created once with the runtime's first state, before the pod shows anything of it; a create
that does not make our record gives back what the runtime reserved; an old-shaped CRD (with a status
subresource) still works, with the status written through ``/status`` as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from handler_helpers import GROUP_PATH, NODE, ZONE, Harness, make_harness

from eci_operator.kube.errors import Invalid
from eci_operator.kube.memory import WITH_STATUS

GROUPS = f"{GROUP_PATH}/namespaces/ns/containergroups"
POD_STATUS = "/api/v1/namespaces/ns/pods/web/status"
POD_PATH = ("containergroups", "containergroups/status", "pods", "pods/status")
HAPPY_PATH = Counter({("create", "containergroups"): 1, ("patch", "pods/status"): 1})


def pod_writes(h: Harness, before: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """The operator's own successful writes since ``before``, by (verb, resource), pod path only."""
    now = h.operator.client.counts.writes()
    return Counter(
        {k: n - before.get(k, 0) for k, n in now.items() if k[1] in POD_PATH and n - before.get(k, 0)}
    )


async def ready(h: Harness) -> None:
    h.profile()
    await h.settle()


@pytest.fixture
async def old_crd() -> AsyncIterator[Harness]:
    """An API server whose ContainerGroup CRD still has the status subresource (a cluster from before #18)."""
    h = await make_harness(status_subresources=WITH_STATUS | {"containergroups"})
    yield h
    await h.operator.stop(drain_seconds=1.0)


async def test_two_writes_per_pod_by_verb_and_resource(harness: Harness) -> None:
    await ready(harness)
    before = harness.operator.client.counts.writes()
    for i in range(5):
        harness.pod(f"web-{i}")
    await harness.settle()
    assert pod_writes(harness, before) == Counter({k: 5 * n for k, n in HAPPY_PATH.items()})
    assert harness.events("web-0") == ["ContainerInstanceCreated"]  # and one Event, as before (Events apart)
    # whether the CRD has a status subresource is asked once, from discovery, counted under its own name
    asked = {k: n for k, n in harness.operator.client.counts.by_key.items() if k[1] == "discovery"}
    assert asked == {("get", "discovery", 200): 1}


async def test_the_record_with_its_ip_is_created_before_the_pod_shows_it(harness: Harness) -> None:
    await ready(harness)
    mark = len(harness.server.requests)
    harness.pod("web")
    await harness.settle()
    writes = [(m, p, b) for m, p, b in harness.server.requests[mark:] if m != "GET" and "/events" not in p]
    assert [(m, p) for m, p, _ in writes] == [("POST", GROUPS), ("PATCH", POD_STATUS)]
    created, reflected = writes[0][2], writes[1][2]
    assert created is not None
    assert reflected is not None
    assert created["status"]["phase"] == "Running"
    assert created["status"]["ip"] == reflected["status"]["podIP"]
    group = harness.server.get("containergroups", "ns", "web")
    assert group is not None
    assert group["status"]["ip"] == created["status"]["ip"]


async def test_a_refused_create_gives_back_what_the_runtime_reserved(harness: Harness) -> None:
    await ready(harness)
    node = harness.server.get("nodes", "", NODE)
    assert node is not None
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web"},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx"}]},
    }
    harness.server.fail_next[("POST", "containergroups")] = [422]
    with pytest.raises(Invalid):
        await harness.operator.pods.creator.create(("ns", "web"), pod, node)
    assert harness.runtime.get(("ns", "web")) is None
    assert sum(harness.runtime.capacity.zone(ZONE).used.values()) == 0


async def test_a_group_recorded_by_someone_else_is_adopted_not_doubled(harness: Harness) -> None:
    """A create that finds a record (another replica's, a lost answer): ours is released, that one runs."""
    await ready(harness)
    harness.pod("web")
    await harness.settle()
    recorded = harness.server.get("containergroups", "ns", "web")
    pod = harness.server.get("pods", "ns", "web")
    node = harness.server.get("nodes", "", NODE)
    assert recorded is not None
    assert pod is not None
    assert node is not None
    await harness.runtime.delete(("ns", "web"))  # as if this replica had never run it
    body, fresh = await harness.operator.pods.creator.create(("ns", "web"), pod, node)
    assert not fresh
    assert body is not None
    assert harness.runtime.get(("ns", "web")) is None  # released: the sync adopts the record
    await harness.operator.syncer.sync(("ns", "web"), pod, body)
    adopted = harness.runtime.get(("ns", "web"))
    assert adopted is not None
    assert adopted.ip == recorded["status"]["ip"]


async def test_an_old_crd_with_a_status_subresource_still_records_the_status(old_crd: Harness) -> None:
    h = old_crd
    await ready(h)
    before = h.operator.client.counts.writes()
    h.pod("web")
    await h.settle()
    split = {
        ("create", "containergroups"): 1,
        ("patch", "containergroups/status"): 1,
        ("patch", "pods/status"): 1,
    }
    assert pod_writes(h, before) == Counter(split)
    group, pod = h.server.get("containergroups", "ns", "web"), h.server.get("pods", "ns", "web")
    assert group is not None
    assert pod is not None
    assert group["status"]["phase"] == "Running"
    assert group["status"]["ip"] == pod["status"]["podIP"]
    await h.restart()  # and the record is what a restarted operator adopts
    adopted = h.runtime.get(("ns", "web"))
    assert adopted is not None
    assert adopted.ip == pod["status"]["podIP"]
