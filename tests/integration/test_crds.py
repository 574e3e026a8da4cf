"""The CRDs on a real API server: the examples are accepted, and the OpenAPI/CEL rules reject what the
pydantic models reject (bad CIDR, zone outside the region, spot price limit rules, immutable spec).

Server-side dry runs leave nothing behind; the immutability check creates one ContainerGroup in the test's
own namespace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eci_operator.domain import load_profile, resolve

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests" / "examples"


def _profile(**spec: Any) -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLES / "profile.yaml").read_text())
    doc["metadata"]["name"] = "crd-check"
    doc["spec"].update(spec)
    return doc


def _group(namespace: str) -> dict[str, Any]:
    profile = load_profile(yaml.safe_load((EXAMPLES / "profile.yaml").read_text()))
    pod = yaml.safe_load((EXAMPLES / "pod.yaml").read_text())
    resolution = resolve(pod, profile.spec, namespace_labels={})
    return resolution.container_group(
        pod_name="eci-demo",
        pod_uid="00000000-0000-0000-0000-000000000001",
        namespace=namespace,
        node_name="virtual-kubelet-cn-hangzhou-i",
        zone_id="cn-hangzhou-i",
        profile_name="default",
    ).to_dict()


def _dry_run(kubectl: Any, doc: dict[str, Any]) -> Any:
    return kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(doc), check=False)


@pytest.mark.parametrize("name", ["profile.yaml", "profile-two-zones.yaml"])
def test_example_profiles_are_accepted(crds: None, kubectl: Any, name: str) -> None:
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    # The schema is under test, not the webhook: a cluster where `make run` applied the example already
    # has this name and zone, which admission would rightly refuse.
    doc["metadata"]["name"] += "-dry-run"
    doc["metadata"].setdefault("labels", {})["eci.ask.dev/skip-admission"] = "true"
    done = _dry_run(kubectl, doc)
    assert done.returncode == 0, done.stderr
    stored = json.loads(done.stdout)
    assert stored["spec"]["simulation"]["seed"] == doc["spec"].get("simulation", {}).get("seed", 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"vSwitches": [{"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "192.168.0.1/24"}]},
            "no host bits",
        ),
        ({"vSwitches": [{"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "fd00::/64"}]}, "IPv4 network"),
        (
            {"vSwitches": [{"id": "vsw-a", "zoneId": "cn-shanghai-b", "cidr": "10.0.0.0/16"}]},
            "must be in regionId",
        ),
        ({"vSwitches": []}, "vSwitches"),
        ({"simulation": {"zones": [{"zoneId": "cn-hangzhou-z"}]}}, "must be the zone of a vSwitch"),
        ({"simulation": {"startupDelaySeconds": -1}}, "startupDelaySeconds"),
        ({"simulation": {"creationRateLimit": {"perSecond": 0}}}, "creationRateLimit.perSecond"),
        ({"simulation": {"creationRateLimit": {"burst": 0}}}, "creationRateLimit.burst"),
        (
            {
                "selectors": [
                    {
                        "name": "s",
                        "objectSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]},
                        "effect": {},
                    }
                ]
            },
            "In and NotIn need values",
        ),
    ],
)
def test_bad_profiles_are_rejected(crds: None, kubectl: Any, spec: dict[str, Any], message: str) -> None:
    done = _dry_run(kubectl, _profile(**spec))
    assert done.returncode != 0
    assert message in done.stderr


def test_container_group_rules(crds: None, kubectl: Any) -> None:
    good = _group("default")
    assert _dry_run(kubectl, good).returncode == 0
    no_limit = json.loads(json.dumps(good))
    no_limit["spec"]["spot"].pop("priceLimit")
    assert "priceLimit is required" in _dry_run(kubectl, no_limit).stderr
    wrong_first = json.loads(json.dumps(good))
    wrong_first["spec"]["instanceSpec"] = "ecs.g7.large"
    assert "first candidate" in _dry_run(kubectl, wrong_first).stderr


def test_container_group_spec_is_immutable(crds: None, kubectl: Any, namespace: str) -> None:
    group = _group(namespace)
    # Its pod does not exist: drop the owner (the garbage collector would delete the group) and hold it with
    # a finalizer (a running operator cleans up orphaned groups; the rules still apply while it is held).
    del group["metadata"]["ownerReferences"]
    group["metadata"]["finalizers"] = ["eci.ask.dev/test-hold"]
    kubectl("create", "-f", "-", input=json.dumps(group))
    cg = ["-n", namespace, "containergroup", "eci-demo"]
    try:
        patch = json.dumps({"spec": {"maxPendingMinutes": 60}})
        done = kubectl("patch", *cg, "--type=merge", "-p", patch, check=False)
        assert done.returncode != 0
        assert "spec is immutable" in done.stderr
        # no status subresource (issue #18): the status is a patch of the object, the spec rule still holds
        status = json.dumps({"status": {"phase": "Pending", "instanceSpec": "2.0-4.0Gi"}})
        kubectl("patch", *cg, "--type=merge", "-p", status)
        assert kubectl("get", *cg, "-o", "jsonpath={.status.phase}").stdout == "Pending"
        both = json.dumps({"spec": {"maxPendingMinutes": 60}, "status": {"phase": "Running"}})
        assert "spec is immutable" in kubectl("patch", *cg, "--type=merge", "-p", both, check=False).stderr
        header = kubectl("get", *cg, "-o", "wide").stdout.split("\n")[0].split()
        assert header[:8] == ["NAME", "PHASE", "SPEC", "ZONE", "IP", "CNY/S", "AGE", "INSTANCE"]
    finally:
        kubectl(
            "patch", *cg, "--type=merge", "-p", json.dumps({"metadata": {"finalizers": None}}), check=False
        )


def _vswitch(name: str = "vsw-crd", **spec: Any) -> dict[str, Any]:
    base = {"vSwitchId": name, "vpcId": "vpc-crd", "zoneId": "cn-hangzhou-i", "cidrBlock": "10.0.0.0/24"}
    return {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "VSwitch",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            _vswitch(cidrBlock="10.0.0.0/15"),
            'spec.cidrBlock: Invalid value: "10.0.0.0/15": the mask must be /16 to /29',
        ),
        (_vswitch(cidrBlock="10.0.0.0/30"), "the mask must be /16 to /29"),
        (_vswitch(cidrBlock="10.0.0.1/24"), "no host bits"),
        (_vswitch(vSwitchId="vsw-other"), "metadata.name must equal spec.vSwitchId"),
        (_vswitch(vpcId="vpc_bad"), "spec.vpcId"),
        (_vswitch(zoneId="hangzhou"), "spec.zoneId"),
        (_vswitch(simulation={"stock": {"*": -1}}), "spec.simulation.stock"),
    ],
)
def test_bad_vswitches_are_rejected_naming_the_field(
    crds: None, kubectl: Any, doc: dict[str, Any], message: str
) -> None:
    assert _dry_run(kubectl, _vswitch()).returncode == 0
    done = _dry_run(kubectl, doc)
    assert done.returncode != 0
    assert message in done.stderr


def test_a_vswitch_keeps_its_zone_and_cidr(crds: None, kubectl: Any) -> None:
    doc = _vswitch("vsw-crd-immutable")
    kubectl("apply", "-f", "-", input=json.dumps(doc))
    try:
        doc["spec"]["cidrBlock"] = "10.0.1.0/24"
        done = kubectl("apply", "-f", "-", input=json.dumps(doc), check=False)
        assert done.returncode != 0
        assert "cidrBlock is immutable" in done.stderr
    finally:
        kubectl("delete", "vswitch", "vsw-crd-immutable", "--ignore-not-found")


def test_a_profile_may_name_vswitch_objects_instead_of_inline_ones(crds: None, kubectl: Any) -> None:
    refs = _profile(vSwitchIds=["vsw-a"])
    del refs["spec"]["vSwitches"]
    refs["metadata"]["labels"] = {"eci.ask.dev/skip-admission": "true"}  # the schema under test
    done = _dry_run(kubectl, refs)
    assert done.returncode == 0, done.stderr
    neither = _profile()
    del neither["spec"]["vSwitches"]
    done = _dry_run(kubectl, neither)
    assert done.returncode != 0
    assert "at least one vSwitch, inline in vSwitches or a VSwitch object named in vSwitchIds" in done.stderr
