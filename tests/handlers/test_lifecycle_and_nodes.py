"""Orphans, node retirement, zone conflicts and the record-is-the-request rule, in-process."""

from __future__ import annotations

from handler_helpers import GROUP_PATH, NODE, Harness


async def test_an_orphan_is_left_to_the_collector_inside_its_grace_then_deleted(harness: Harness) -> None:
    harness.server.garbage_collection = False  # a cluster whose garbage collector is slow (or absent)
    harness.profile()
    await harness.settle()
    harness.pod("web")
    await harness.settle()
    harness.request("DELETE", "/api/v1/namespaces/ns/pods/web", {})
    await harness.settle()
    assert harness.server.get("pods", "ns", "web") is None
    assert harness.server.get("containergroups", "ns", "web") is not None  # inside the grace period
    harness.operator.resync()
    await harness.settle()
    assert harness.server.get("containergroups", "ns", "web") is not None
    await harness.advance(31)
    harness.operator.resync()
    await harness.settle()
    assert harness.server.get("containergroups", "ns", "web") is None  # past it: deleted by the operator


async def test_a_deleted_profile_cordons_its_node_and_deletes_it_once_empty(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    harness.pod("web")
    await harness.settle()
    harness.request("DELETE", f"{GROUP_PATH}/eciprofiles/default", {})
    await harness.settle()
    node = harness.server.get("nodes", "", NODE)
    assert node is not None
    assert node["spec"]["unschedulable"] is True  # cordoned: a pod still runs there
    harness.request("DELETE", "/api/v1/namespaces/ns/pods/web", {})
    await harness.settle()
    assert harness.server.get("nodes", "", NODE) is None


async def test_a_zone_claimed_twice_stays_with_its_owner(harness: Harness) -> None:
    harness.profile("first")
    await harness.settle()
    harness.profile("second", vSwitches=[{"id": "vsw-2", "zoneId": "cn-hangzhou-i", "cidr": "10.1.0.0/24"}])
    await harness.settle()
    node = harness.server.get("nodes", "", NODE)
    assert node is not None
    assert node["metadata"]["labels"]["eci.ask.dev/profile"] == "first"
    second = harness.server.get("eciprofiles", "", "second")
    assert second is not None
    conditions = {c["type"]: c for c in second["status"]["conditions"]}
    assert conditions["ZoneConflict"]["status"] == "True"
    assert "cn-hangzhou-i is served by ECIProfile first" in conditions["ZoneConflict"]["message"]


async def test_an_edited_lifecycle_annotation_changes_nothing_across_a_restart(harness: Harness) -> None:
    harness.profile(vSwitches=[{"id": "vsw-1", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/29"}])
    await harness.settle()
    harness.pod("kept")
    await harness.settle()
    kept = harness.server.get("pods", "ns", "kept")
    assert kept is not None
    ip = kept["status"]["podIP"]
    # edited after creation to values the webhook would refuse (it judges CREATE only)
    path = "/api/v1/namespaces/ns/pods/kept"
    harness.request(
        "PATCH",
        path,
        {"metadata": {"annotations": {"eci.ask.dev/exit-code": "x", "eci.ask.dev/startup-delay": "-1"}}},
    )
    await harness.settle()
    await harness.restart()
    assert harness.runtime.get(("ns", "kept")) is not None  # adopted, not skipped
    for i in range(3):  # the /29 has 3 usable addresses: the kept one is never handed out again
        harness.pod(f"new-{i}")
    await harness.settle()
    ips = [harness.server.get("pods", "ns", n)["status"].get("podIP") for n in ("new-0", "new-1", "new-2")]
    assert ip not in ips
    assert len({i for i in ips if i}) == len([i for i in ips if i])
    pod = harness.server.get("pods", "ns", "kept")
    assert pod is not None
    assert pod["status"]["podIP"] == ip
    assert pod["status"]["phase"] == "Running"


async def test_a_spot_notice_due_at_once_is_posted_beside_the_creation(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    spot = {
        "k8s.aliyun.com/eci-spot-strategy": "SpotAsPriceGo",
        "k8s.aliyun.com/eci-spot-duration": "0",
        "eci.ask.dev/spot-reclaim-after": "3",
    }
    harness.pod("spot", annotations=spot)
    await harness.settle()
    assert sorted(harness.events("spot")) == ["ContainerInstanceCreated", "SpotToBeReleased"]
    await harness.advance(3)
    group = harness.server.get("containergroups", "ns", "spot")
    assert group is not None
    assert group["status"]["phase"] == "Expired"
