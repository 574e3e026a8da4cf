"""ASK's kube-system/eci-profile ConfigMap and the VSwitch objects, in-process: the ConfigMap alone drives
virtual nodes, bad edits keep the previous configuration and say why in a Warning Event, the operator never
writes to the ConfigMap, and the VSwitches' status is one aggregated write per vSwitch."""

from __future__ import annotations

import json
from typing import Any

from handler_helpers import GROUP_PATH, Harness

CM = "/api/v1/namespaces/kube-system/configmaps"
PROFILE = "kube-system.eci-profile"
ZONE_I, ZONE_J = "cn-hangzhou-i", "cn-hangzhou-j"
NODE_I, NODE_J = f"virtual-kubelet-{ZONE_I}", f"virtual-kubelet-{ZONE_J}"


def vswitch(h: Harness, vsw: str, zone: str, cidr: str, vpc: str = "vpc-demo", **sim: Any) -> None:
    spec: dict[str, Any] = {"vSwitchId": vsw, "vpcId": vpc, "zoneId": zone, "cidrBlock": cidr}
    if sim:
        spec["simulation"] = sim
    body = {"apiVersion": "eci.ask.dev/v1alpha1", "kind": "VSwitch", "metadata": {"name": vsw}, "spec": spec}
    h.request("POST", f"{GROUP_PATH}/vswitches", body)


def configmap(h: Harness, **data: str) -> None:
    base = {"vSwitchIds": "vsw-i", "vpcId": "vpc-demo", "securityGroupId": "sg-demo"}
    if h.server.get("namespaces", "", "kube-system") is None:
        h.namespace("kube-system")
    h.request("POST", CM, {"metadata": {"name": "eci-profile"}, "data": {**base, **data}})


def edit(h: Harness, **data: str | None) -> None:
    h.request("PATCH", f"{CM}/eci-profile", {"data": data})


def events(h: Harness, reason: str) -> list[dict[str, Any]]:
    return [
        e
        for e in h.server.all("events")
        if e["involvedObject"]["name"] == "eci-profile" and e["reason"] == reason
    ]


def served(h: Harness) -> dict[str, str]:
    """node -> zone, for the nodes of the ConfigMap's profile that are not cordoned."""
    return {
        n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
        for n in h.server.all("nodes")
        if n["metadata"]["labels"].get("eci.ask.dev/profile") == PROFILE
        and not n["spec"].get("unschedulable")
    }


async def demo(h: Harness, **data: str) -> None:
    vswitch(h, "vsw-i", ZONE_I, "192.168.0.0/24")
    configmap(h, **data)
    await h.settle()


async def test_one_vswitch_and_the_configmap_give_one_ready_node_and_no_write_to_the_configmap(
    harness: Harness,
) -> None:
    mark = len(harness.server.requests)
    await demo(harness)
    assert served(harness) == {NODE_I: ZONE_I}
    node = harness.server.get("nodes", "", NODE_I)
    assert node is not None
    assert node["metadata"]["labels"]["topology.kubernetes.io/region"] == "cn-hangzhou"
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert [e["type"] for e in events(harness, "ConfigurationApplied")] == ["Normal"]
    assert not [w for w in harness.writes_since(mark) if "/configmaps" in w[1]]
    assert not [p for m, p, _ in harness.server.requests if m != "GET" and "/eciprofiles" in p]


async def test_a_vswitch_in_a_new_zone_adds_a_node_and_a_removed_one_retires_it(harness: Harness) -> None:
    await demo(harness)
    vswitch(harness, "vsw-j", ZONE_J, "192.168.1.0/24")
    await harness.settle()
    assert served(harness) == {NODE_I: ZONE_I}  # not listed in vSwitchIds yet
    edit(harness, vSwitchIds="vsw-i,vsw-j")
    await harness.settle()
    assert served(harness) == {NODE_I: ZONE_I, NODE_J: ZONE_J}
    harness.pod("web", node=NODE_I)
    await harness.settle()
    edit(harness, vSwitchIds="vsw-j")
    await harness.settle()
    node = harness.server.get("nodes", "", NODE_I)
    assert node is not None
    assert node["spec"]["unschedulable"] is True  # cordoned: a pod still runs there
    harness.request("DELETE", "/api/v1/namespaces/ns/pods/web", {})
    await harness.settle()
    assert harness.server.get("nodes", "", NODE_I) is None
    assert served(harness) == {NODE_J: ZONE_J}


async def test_a_vanished_configmap_retires_its_nodes_and_a_new_one_brings_them_back(
    harness: Harness,
) -> None:
    await demo(harness)
    harness.request("DELETE", f"{CM}/eci-profile", {})
    await harness.settle()
    assert harness.server.get("nodes", "", NODE_I) is None
    configmap(harness)
    await harness.settle()
    assert served(harness) == {NODE_I: ZONE_I}


async def test_new_pods_use_new_values_and_existing_pods_keep_theirs(harness: Harness) -> None:
    await demo(harness)
    harness.pod("before", node=NODE_I)
    await harness.settle()
    edit(harness, securityGroupId="sg-new")
    await harness.settle()
    harness.pod("after", node=NODE_I)
    await harness.settle()
    before = harness.server.get("containergroups", "ns", "before")
    after = harness.server.get("containergroups", "ns", "after")
    assert before is not None
    assert after is not None
    assert before["status"]["securityGroupId"] == "sg-demo"
    assert after["status"]["securityGroupId"] == "sg-new"
    assert before["spec"]["profile"] == after["spec"]["profile"] == PROFILE


BAD_EDITS = [
    ({"selectors": "[{"}, "data.selectors: '[{' is not valid: not valid JSON"),
    ({"vSwitchIds": "vsw-i,vsw-nope"}, "data.vSwitchIds: 'vsw-nope' is not valid: no such vSwitch"),
    ({"vSwitchIds": "vsw-i,vsw-other"}, "'vsw-other' is not valid: the vSwitch is in VPC vpc-other"),
    (
        {
            "selectors": json.dumps(
                [{"name": "big", "effect": {"annotations": {"k8s.aliyun.com/eci-use-specs": "2-x"}}}]
            )
        },
        'spec.selectors[0].effect.annotations["k8s.aliyun.com/eci-use-specs"]',
    ),
    ({"enableLinuxArm64Node": "yes"}, "data.enableLinuxArm64Node: 'yes' is not valid: not a boolean"),
]


async def test_each_bad_edit_keeps_the_previous_configuration_and_is_named_in_a_warning(
    harness: Harness,
) -> None:
    await demo(harness)
    vswitch(harness, "vsw-other", ZONE_J, "10.9.0.0/24", vpc="vpc-other")
    await harness.settle()
    for data, text in BAD_EDITS:
        edit(harness, **data)
        await harness.settle()
        warnings = [e["message"] for e in events(harness, "InvalidConfiguration")]
        assert any(text in m for m in warnings), (text, warnings)
        assert all(e["type"] == "Warning" for e in events(harness, "InvalidConfiguration"))
        assert any("the previous configuration keeps serving" in m for m in warnings)
        assert served(harness) == {NODE_I: ZONE_I}
        entry = harness.operator.caches.profiles.entry(PROFILE)
        assert entry is not None
        assert entry.valid is not None
        assert entry.error
        assert [v.id for v in entry.valid.spec.vswitches] == ["vsw-i"]
        assert entry.valid.spec.selectors == []
        edit(harness, vSwitchIds="vsw-i", selectors=None, enableLinuxArm64Node=None)  # fixed
        await harness.settle()
        entry = harness.operator.caches.profiles.entry(PROFILE)
        assert entry is not None
        assert entry.error is None


async def test_a_fixed_edit_takes_effect(harness: Harness) -> None:
    await demo(harness)
    edit(harness, selectors="[{")
    await harness.settle()
    good = [{"name": "big", "effect": {"annotations": {"k8s.aliyun.com/eci-use-specs": "ecs.g7.xlarge"}}}]
    edit(harness, selectors=json.dumps(good))
    await harness.settle()
    applied = events(harness, "ConfigurationApplied")
    assert sum(e.get("count", 1) for e in applied) == 2  # at creation, and again once fixed
    harness.pod("web", node=NODE_I)
    await harness.settle()
    group = harness.server.get("containergroups", "ns", "web")
    assert group is not None
    assert group["spec"]["instanceSpec"] == "ecs.g7.xlarge"
    assert group["spec"]["matchedSelectors"] == ["big"]


async def test_unmodelled_keys_are_reported_once_as_ignored(harness: Harness) -> None:
    await demo(harness, enableClusterIp="true", slsMachineGroup="k8s-group")
    edit(harness, securityGroupId="sg-2")  # a re-evaluation: nothing new to report about the keys
    await harness.settle()
    (ignored,) = events(harness, "IgnoredKeys")
    assert ignored["type"] == "Normal"
    assert "enableClusterIp (not modelled by the emulator)" in ignored["message"]
    assert "slsMachineGroup" in ignored["message"]


async def test_an_overlapping_vswitch_does_not_serve_and_says_why(harness: Harness) -> None:
    await demo(harness)
    harness.clock.advance(2)  # younger than vsw-i
    vswitch(harness, "vsw-x", ZONE_J, "192.168.0.128/25")
    await harness.settle()
    status = (harness.server.get("vswitches", "", "vsw-x") or {})["status"]
    (valid,) = status["conditions"]
    assert (valid["type"], valid["status"], valid["reason"]) == ("Valid", "False", "Overlap")
    assert "overlaps 192.168.0.0/24 of vSwitch vsw-i in vpc-demo" in valid["message"]
    edit(harness, vSwitchIds="vsw-i,vsw-x")
    await harness.settle()
    assert any(
        "'vsw-x' is not valid: no such vSwitch" in e["message"]
        for e in events(harness, "InvalidConfiguration")
    )
    assert served(harness) == {NODE_I: ZONE_I}


async def test_the_vswitch_status_counts_addresses_in_one_write_per_pass(harness: Harness) -> None:
    await demo(harness)
    status = (harness.server.get("vswitches", "", "vsw-i") or {})["status"]
    assert (status["ipsInUse"], status["availableIpAddressCount"]) == (0, 252)
    for name in ("a", "b", "c"):
        harness.pod(name, node=NODE_I)
    await harness.settle()
    mark = len(harness.server.requests)
    harness.operator.queue.add(("", "__vswitches__"))  # what the periodic pass does
    await harness.settle()
    assert harness.writes_since(mark) == [("PATCH", f"{GROUP_PATH}/vswitches/vsw-i/status")]
    status = (harness.server.get("vswitches", "", "vsw-i") or {})["status"]
    assert (status["ipsInUse"], status["availableIpAddressCount"]) == (3, 249)
    mark = len(harness.server.requests)
    harness.operator.queue.add(("", "__vswitches__"))
    await harness.settle()
    assert harness.writes_since(mark) == []  # nothing changed: nothing written


async def test_a_zone_taken_down_on_its_vswitch_makes_its_node_not_ready(harness: Harness) -> None:
    await demo(harness)
    harness.request("PATCH", f"{GROUP_PATH}/vswitches/vsw-i", {"spec": {"simulation": {"available": False}}})
    await harness.settle()
    node = harness.server.get("nodes", "", NODE_I)
    assert node is not None
    ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ZoneUnavailable")


async def test_a_zone_claimed_by_an_older_eciprofile_stays_with_it(harness: Harness) -> None:
    harness.profile("first")  # zone cn-hangzhou-i, created first
    await harness.settle()
    harness.clock.advance(2)
    await demo(harness)
    node = harness.server.get("nodes", "", NODE_I)
    assert node is not None
    assert node["metadata"]["labels"]["eci.ask.dev/profile"] == "first"
    harness.request("DELETE", f"{GROUP_PATH}/eciprofiles/first", {})
    await harness.settle()
    assert served(harness) == {NODE_I: ZONE_I}  # the ConfigMap's profile takes the zone over


async def test_an_eciprofile_may_name_vswitch_objects_and_waits_for_them(harness: Harness) -> None:
    harness.profile("refs", vSwitches=[], vpcId="vpc-demo", vSwitchIds=["vsw-i"])
    await harness.settle()
    assert harness.server.get("nodes", "", NODE_I) is None  # no such VSwitch yet: not in effect
    status = (harness.server.get("eciprofiles", "", "refs") or {})["status"]
    valid = {c["type"]: c for c in status["conditions"]}["Valid"]
    assert valid["status"] == "False"
    assert "spec.vSwitchIds: 'vsw-i' is not valid: no such vSwitch" in valid["message"]
    vswitch(harness, "vsw-i", ZONE_I, "192.168.0.0/24")
    await harness.settle()
    node = harness.server.get("nodes", "", NODE_I)
    assert node is not None
    assert node["metadata"]["labels"]["eci.ask.dev/profile"] == "refs"
    harness.pod("web", node=NODE_I)
    await harness.settle()
    group = harness.server.get("containergroups", "ns", "web")
    assert group is not None
    assert group["spec"]["vSwitches"] == [{"id": "vsw-i", "zoneId": ZONE_I, "cidr": "192.168.0.0/24"}]


async def test_inline_vswitches_and_references_serve_together(harness: Harness) -> None:
    vswitch(harness, "vsw-j", ZONE_J, "10.0.1.0/24", vpc="vpc-1")
    harness.profile("mixed", vSwitchIds=["vsw-j"])  # the harness's inline vsw-1 in cn-hangzhou-i
    await harness.settle()
    nodes = {n["metadata"]["name"] for n in harness.server.all("nodes")}
    assert nodes == {NODE_I, NODE_J}


async def test_the_webhook_refuses_an_edit_that_would_not_take_effect(harness: Harness) -> None:
    from eci_operator.handlers.admission.server import AdmissionServer

    await demo(harness)
    server = AdmissionServer(harness.operator.caches)
    old = harness.server.get("configmaps", "kube-system", "eci-profile") or {}
    bad = {**old, "data": {**old["data"], "selectors": "[{"}}
    answer = await server.validate_eci_profile_configmap({"object": bad, "oldObject": old})
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert message.startswith("ConfigMap kube-system/eci-profile: data.selectors: '[{' is not valid")
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {"a": "b"}}}
    assert (await server.validate_eci_profile_configmap({"object": relabelled, "oldObject": old}))["allowed"]
    good = {**old, "data": {**old["data"], "securityGroupId": "sg-2"}}
    assert (await server.validate_eci_profile_configmap({"object": good, "oldObject": old}))["allowed"]


async def test_no_ask_configmap_watches_no_configmap(harness: Harness) -> None:
    import dataclasses

    from eci_operator.handlers.operator import Operator

    old = harness.operator
    settings = dataclasses.replace(old.settings, ask_configmap=False)
    quiet = Operator(old.client, harness.runtime, settings, clock=harness.clock, events=old.events)
    assert "ConfigMap" not in {i.kind for i in quiet.informers}
    assert {"ConfigMap", "VSwitch"} <= {i.kind for i in old.informers}
    (configmaps,) = [i for i in old.informers if i.kind == "ConfigMap"]
    assert configmaps.params == {"fieldSelector": "metadata.name=eci-profile"}  # what the Role allows


async def test_profile_wide_simulation_knobs_are_configmap_annotations(harness: Harness) -> None:
    await demo(harness)
    knobs = {"simulation.eci.ask.dev/seed": "7", "simulation.eci.ask.dev/startupDelaySeconds": "2.5"}
    harness.request("PATCH", f"{CM}/eci-profile", {"metadata": {"annotations": knobs}})
    await harness.settle()
    profile = harness.operator.caches.profiles.get(PROFILE)
    assert profile is not None
    assert (profile.spec.simulation.seed, profile.spec.simulation.startup_delay_seconds) == (7, 2.5)
    bad = {"simulation.eci.ask.dev/startupDelaySeconds": "soon"}
    harness.request("PATCH", f"{CM}/eci-profile", {"metadata": {"annotations": bad}})
    await harness.settle()
    warning = events(harness, "InvalidConfiguration")[-1]["message"]
    assert (
        "metadata.annotations['simulation.eci.ask.dev/startupDelaySeconds']: 'soon' is not valid" in warning
    )
    assert "the previous configuration keeps serving" in warning
    profile = harness.operator.caches.profiles.get(PROFILE)
    assert profile is not None
    assert profile.spec.simulation.startup_delay_seconds == 2.5
