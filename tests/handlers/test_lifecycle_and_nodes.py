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
    for i in range(3):  # the /29 has 4 usable addresses: the kept one is never handed out again
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
    pod = harness.server.get("pods", "ns", "spot")
    assert pod is not None
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "BidFailed")  # retained
    assert "BidFailed" in harness.events("spot")


async def test_max_pending_minute_fails_the_instance_and_the_pod_waits_by_restart_policy(
    harness: Harness,
) -> None:
    harness.profile()
    await harness.settle()
    stuck = {"eci.ask.dev/start-failure": "ErrImagePull", "k8s.aliyun.com/eci-max-pending-minute": "10"}
    harness.pod("stuck", annotations=stuck)
    await harness.settle()
    await harness.advance(600)
    group = harness.server.get("containergroups", "ns", "stuck")
    assert group is not None
    assert (group["status"]["phase"], group["status"]["reason"]) == ("Failed", "PendingTimeout")
    assert all(i.get("end") for i in group["status"]["billedIntervals"])  # billing stopped
    pod = harness.server.get("pods", "ns", "stuck")
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"  # restartPolicy Always (the default)
    assert "PendingTimeout" in harness.events("stuck")


async def test_enable_linux_arm64_node_adds_an_arm_node_that_runs_only_arm_types(harness: Harness) -> None:
    harness.profile(enableLinuxArm64Node=True)
    await harness.settle()
    arm_node = NODE + "-linux-arm64"
    node = harness.server.get("nodes", "", arm_node)
    assert node is not None
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert {"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert harness.server.get("nodes", "", NODE) is not None  # the x86 node of the zone stays
    arm = {"k8s.aliyun.com/eci-use-specs": "ecs.g8y.large"}
    harness.pod("arm", node=arm_node, annotations=arm)
    harness.pod("x86-on-arm", node=arm_node)
    harness.pod("arm-on-x86", annotations=arm)
    await harness.settle()
    pods = {n: harness.server.get("pods", "ns", n) for n in ("arm", "x86-on-arm", "arm-on-x86")}
    running = pods["arm"]
    assert running is not None
    assert running["status"]["phase"] == "Running"
    assert running["metadata"]["annotations"]["k8s.aliyun.com/eci-instance-spec"] == "ecs.g8y.large"
    for name in ("x86-on-arm", "arm-on-x86"):
        refused = pods[name]
        assert refused is not None
        assert refused["status"]["phase"] == "Failed"
        assert "k8s.aliyun.com/eci-use-specs" in refused["status"]["message"]
    assert "runs only ARM ECS types" in pods["x86-on-arm"]["status"]["message"]  # type: ignore[index]
    assert "ARM virtual node" in pods["arm-on-x86"]["status"]["message"]  # type: ignore[index]
