"""Virtual-node rules: zone ownership, node bodies, drift detection."""

from __future__ import annotations

import datetime as dt

import pytest

from eci_operator.domain import nodes as rules

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def claim(name: str, seconds: int, *zones: str) -> rules.ProfileClaim:
    return rules.ProfileClaim(name, T0 + dt.timedelta(seconds=seconds), zones)


@pytest.mark.parametrize(
    ("claims", "current", "losers"),
    [
        ([claim("a", 0, "z1"), claim("b", 5, "z2")], {}, {}),
        ([claim("a", 0, "z1"), claim("b", 5, "z1", "z2")], {}, {"b": {"z1": "a"}}),
        ([claim("b", 0, "z1"), claim("a", 0, "z1")], {}, {"b": {"z1": "a"}}),  # same second: by name
        ([claim("b", 0, "z1"), claim("a", 0, "z1")], {"z1": "b"}, {"a": {"z1": "b"}}),  # incumbent keeps it
        ([claim("a", 9, "z1"), claim("b", 0, "z1")], {"z1": "a"}, {"b": {"z1": "a"}}),
        ([claim("b", 0, "z1")], {"z1": "gone"}, {}),  # a deleted profile's node does not block
        # A loser owns nothing, so a third profile may take its other zones.
        ([claim("a", 0, "z1"), claim("b", 1, "z1", "z2"), claim("c", 2, "z2")], {}, {"b": {"z1": "a"}}),
    ],
)
def test_zone_conflicts(
    claims: list[rules.ProfileClaim], current: dict[str, str], losers: dict[str, object]
) -> None:
    assert rules.zone_conflicts(claims, current) == losers


def view(**kw: object) -> rules.NodeView:
    base: dict[str, object] = {
        "profile": "p",
        "zone_id": "cn-hangzhou-i",
        "region_id": "cn-hangzhou",
        "address": "127.0.0.1",
        "kubelet_port": 10250,
        "tainted": True,
    }
    base.update(kw)
    return rules.NodeView(**base)  # type: ignore[arg-type]


def test_node_body_has_the_ask_labels_taint_and_endpoints() -> None:
    body = rules.node_body(view(), "2026-01-01T00:00:00Z")
    assert body["metadata"]["name"] == "virtual-kubelet-cn-hangzhou-i"
    labels = body["metadata"]["labels"]
    assert labels["type"] == "virtual-kubelet"
    assert labels["kubernetes.io/role"] == "agent"
    assert labels["kubernetes.io/hostname"] == "virtual-kubelet-cn-hangzhou-i"
    assert labels["topology.kubernetes.io/zone"] == "cn-hangzhou-i"
    assert labels["topology.kubernetes.io/region"] == "cn-hangzhou"
    assert labels["eci.ask.dev/profile"] == "p"
    assert labels["kubernetes.io/arch"] == "amd64"
    # as real ACK virtual nodes: Services' load balancers leave them out
    assert labels["service.beta.kubernetes.io/exclude-node"] == "true"
    assert labels["alpha.service-controller.kubernetes.io/exclude-balancer"] == "true"
    assert body["spec"]["taints"] == [
        {"key": "virtual-kubelet.io/provider", "value": "alibabacloud", "effect": "NoSchedule"}
    ]
    status = body["status"]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["capacity"]["nvidia.com/gpu"] == status["allocatable"]["nvidia.com/gpu"] == "1024"
    assert status["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    assert "conditions" not in status  # Ready comes with the first status write, after the Lease
    conditions = {c["type"]: c["status"] for c in rules.node_status(view(), "")["conditions"]}
    assert conditions["Ready"] == "True"
    assert {conditions[k] for k in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {"False"}


def test_untainted_profile_and_unavailable_zone() -> None:
    assert rules.node_taints(view(tainted=False)) == []
    down = view(zone_available=False)
    assert [t["key"] for t in rules.node_taints(down)] == [rules.TAINT_KEY, rules.ZONE_DOWN_TAINT_KEY]
    ready = next(c for c in rules.node_conditions(down, "") if c["type"] == "Ready")
    assert ready["status"] == "False"


def test_spec_patch_keeps_foreign_taints_and_only_fixes_drift() -> None:
    v = view()
    node = rules.node_body(v, "")
    assert rules.node_needs_status(v, node)  # registered without conditions: Ready is still to be written
    assert rules.node_spec_patch(v, node) is None
    foreign = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    node["spec"]["taints"].append(foreign)
    assert rules.node_spec_patch(v, node) is None  # not ours: left alone
    patch = rules.node_spec_patch(view(tainted=False), node)
    assert patch == {"spec": {"taints": [foreign]}}
    assert rules.node_spec_patch(view(cordoned=True), node) == {"spec": {"unschedulable": True}}


def test_status_drift_ignores_heartbeats() -> None:
    v = view()
    node = {"status": rules.node_status(v, "2026-01-01T00:00:00Z")}
    assert not rules.node_needs_status(v, node)
    assert rules.node_needs_status(view(zone_available=False), node)
    assert rules.node_needs_status(view(kubelet_port=10251), node)


def test_lease_is_owned_by_its_node() -> None:
    lease = rules.lease_body("n", "uid-1", "2026-01-01T00:00:00.000000Z")
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_the_arm_node_of_a_zone_is_labelled_and_tainted_arm64() -> None:
    arm = view(arch="arm64")
    body = rules.node_body(arm, "2026-01-01T00:00:00Z")
    assert body["metadata"]["name"] == "virtual-kubelet-cn-hangzhou-i-linux-arm64"
    labels = body["metadata"]["labels"]
    assert labels["kubernetes.io/arch"] == "arm64"
    assert labels["kubernetes.io/hostname"] == "virtual-kubelet-cn-hangzhou-i-linux-arm64"
    assert labels["topology.kubernetes.io/zone"] == "cn-hangzhou-i"
    assert {"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"} in body["spec"]["taints"]
    assert body["status"]["nodeInfo"]["architecture"] == "arm64"
    # the arch taint is ours: dropped by hand, it comes back
    drifted = {**body, "spec": {"taints": body["spec"]["taints"][:1]}}
    patch = rules.node_spec_patch(arm, drifted)
    assert patch is not None
    assert patch["spec"]["taints"] == body["spec"]["taints"]


def test_arm_nodes_come_with_enable_linux_arm64_node() -> None:
    from eci_operator.models.profile import ECIProfileSpec

    base = {
        "regionId": "cn-hangzhou",
        "vpcId": "vpc-x",
        "securityGroupId": "sg-x",
        "vSwitches": [{"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/24"}],
    }
    assert rules.archs_of(ECIProfileSpec.model_validate(base)) == ["amd64"]
    arm = ECIProfileSpec.model_validate({**base, "enableLinuxArm64Node": True})
    assert rules.archs_of(arm) == ["amd64", "arm64"]
