"""``eci-operator profile from-configmap``: a real ASK ConfigMap into an ECIProfile that validates."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml
from builders import REPO

from eci_operator.cli import main
from eci_operator.domain import load_profile

USE_SPECS = "k8s.aliyun.com/eci-use-specs"
CONFIGMAP = REPO / "tests" / "unit" / "data" / "eci-profile-configmap.yaml"
VSWITCHES = [
    "--vswitch",
    "vsw-2zeet2ksvw7f14ryz0001=cn-beijing-h,172.16.0.0/20",
    "--vswitch",
    "vsw-2ze94pjtfuj9vaymf0002=cn-beijing-k,172.16.16.0/20",
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["profile", "from-configmap", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_converts_the_real_configmap(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "-f", str(CONFIGMAP), *VSWITCHES)
    assert code == 0, err
    document = yaml.safe_load(out)
    profile = load_profile(document)
    assert profile.metadata.name == "default"
    spec = profile.spec
    assert spec.region_id == "cn-beijing"
    assert spec.vpc_id == "vpc-2zeghwzptn5zii0w70001"
    assert spec.security_group_id == "sg-2ze0b9o8pjjzts4h0001"
    assert [(v.id, v.zone_id, v.cidr) for v in spec.vswitches] == [
        ("vsw-2zeet2ksvw7f14ryz0001", "cn-beijing-h", "172.16.0.0/20"),
        ("vsw-2ze94pjtfuj9vaymf0002", "cn-beijing-k", "172.16.16.0/20"),
    ]
    assert [s.name for s in spec.selectors] == ["test-ns", "test-pod"]
    assert spec.selectors[1].effect.labels == {"spot": "yes"}
    for key in ("enableClusterIp", "enableHybridMode", "enablePrivateZone", "resourceGroupId"):
        assert f"note: ignored ConfigMap key '{key}'" in err


def test_stdin_region_and_name(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(CONFIGMAP.read_text()))
    code, out, _ = _run(capsys, "-f", "-", *VSWITCHES, "--region", "cn-beijing", "--name", "ask")
    assert code == 0
    assert yaml.safe_load(out)["metadata"] == {"name": "ask"}


def test_unknown_keys_are_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a", "colour": "blue"}
    path = tmp_path / "cm.json"
    path.write_text(yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "eci-profile"}, "data": data}))
    code, out, err = _run(capsys, "-f", str(path), "--vswitch", "vsw-a=cn-hangzhou-i,10.0.0.0/16")
    assert code == 0
    assert "note: ignored ConfigMap key 'colour' (unknown key)" in err
    assert "selectors" not in yaml.safe_load(out)["spec"]


@pytest.mark.parametrize(
    ("data", "vswitches", "message"),
    [
        (
            {"vSwitchIds": "vsw-a,vsw-b", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            "--vswitch: vsw-b (listed in data.vSwitchIds) has no --vswitch",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i"],
            "--vswitch: 'vsw-a=cn-hangzhou-i' is not valid: expected ID=ZONE,CIDR",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16", "vsw-z=cn-hangzhou-i,10.1.0.0/16"],
            "'vsw-z' is not valid: not in",
        ),
        (
            {"vSwitchIds": "vsw-a,vsw-b", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16", "vsw-b=cn-shanghai-b,10.1.0.0/16"],
            "different regions",
        ),
        (
            {"vSwitchIds": "vsw-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            "data.vpcId: (not set) is not valid",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a", "selectors": "[{"},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            "data.selectors: '[{' is not valid: not valid JSON",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a", "selectors": '{"a": 1}'},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            "allowed: a JSON array of selectors",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": 7},
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            "data.securityGroupId: 7 is not valid: ConfigMap values are strings",
        ),
        (
            {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a=cn-hangzhou-i,10.0.0.1/16"],
            "spec.vSwitches[0].cidr: '10.0.0.1/16' is not valid",
        ),
        (
            {
                "vSwitchIds": "vsw-a",
                "vpcId": "vpc-a",
                "securityGroupId": "sg-a",
                "selectors": json.dumps([{"name": "x", "effect": {"annotations": {USE_SPECS: "65-3Gi"}}}]),
            },
            ["vsw-a=cn-hangzhou-i,10.0.0.0/16"],
            'spec.selectors[0].effect.annotations["k8s.aliyun.com/eci-use-specs"]',
        ),
        (
            {"vSwitchIds": "vsw-a****", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
            ["vsw-a****=cn-hangzhou-i,10.0.0.0/16"],
            "spec.vSwitches[0].id: 'vsw-a****' is not valid",
        ),
    ],
)
def test_bad_input(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: dict[str, object],
    vswitches: list[str],
    message: str,
) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "eci-profile"}, "data": data}))
    argv = ["-f", str(path)]
    for value in vswitches:
        argv += ["--vswitch", value]
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_not_a_configmap(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("kind: Pod\nmetadata: {name: p}\n")
    code, _, err = _run(capsys, "-f", str(path), *VSWITCHES)
    assert code == 2
    assert "no ConfigMap found" in err


def test_profile_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile"]) == 2
    assert "from-configmap" in capsys.readouterr().err


def test_simulation_annotations_of_the_configmap_are_converted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "eci-profile",
            "namespace": "kube-system",
            "annotations": {"simulation.eci.ask.dev/seed": "42"},
        },
        "data": {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"},
    }
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = _run(capsys, "-f", str(path), "--vswitch", "vsw-a=cn-hangzhou-i,10.0.0.0/16")
    assert code == 0, err
    assert yaml.safe_load(out)["spec"]["simulation"]["seed"] == 42
    doc["metadata"]["annotations"] = {"simulation.eci.ask.dev/colour": "blue"}
    path.write_text(yaml.safe_dump(doc))
    code, _, err = _run(capsys, "-f", str(path), "--vswitch", "vsw-a=cn-hangzhou-i,10.0.0.0/16")
    assert code == 2
    assert "'simulation.eci.ask.dev/colour']: 'blue' is not valid: not a simulation setting" in err
