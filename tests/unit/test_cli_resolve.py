"""``eci-operator resolve``: in-process through ``cli.main`` (capsys) and once as the installed script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import PROFILE, REPO, container, make_pod

from eci_operator.cli import main

EXAMPLES = REPO / "manifests" / "examples"
PROFILE_DOC = {
    "apiVersion": "eci.ask.dev/v1alpha1",
    "kind": "ECIProfile",
    "metadata": {"name": "test"},
    "spec": PROFILE,
}


def _write(tmp_path: Path, name: str, *docs: Any) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(list(docs)))
    return str(path)


@pytest.fixture
def profile_file(tmp_path: Path) -> str:
    return _write(tmp_path, "profile.yaml", PROFILE_DOC)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["resolve", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_of_the_pod_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "-f", str(EXAMPLES / "pod.yaml"), "-p", str(EXAMPLES / "profile.yaml"))
    assert (code, err) == (0, "")
    result = json.loads(out)
    for key in (
        "instanceSpec",
        "vcpu",
        "memoryGiB",
        "candidates",
        "vSwitchIds",
        "scheduleStrategy",
        "securityGroupIds",
        "sources",
    ):
        assert key in result
    assert result["instanceSpec"] == "2.0-4.0Gi"
    assert [c["name"] for c in result["candidates"]] == ["2.0-4.0Gi", "ecs.g7.large"]
    assert result["vSwitchIds"] == ["vsw-demo-i"]
    assert result["scheduleStrategy"] == "VSwitchOrdered"
    assert result["spot"] == {
        "strategy": "SpotWithPriceLimit",
        "priceLimit": "0.25",
        "durationHours": 1,
        "fallback": False,
    }
    assert result["sources"]["candidates"] == "annotation:k8s.aliyun.com/eci-use-specs"


@pytest.mark.parametrize(
    ("kind", "wrap"),
    [
        ("Deployment", lambda t: {"spec": {"template": t}}),
        ("StatefulSet", lambda t: {"spec": {"template": t}}),
        ("ReplicaSet", lambda t: {"spec": {"template": t}}),
        ("Job", lambda t: {"spec": {"template": t}}),
        ("DaemonSet", lambda t: {"spec": {"template": t}}),
        ("CronJob", lambda t: {"spec": {"jobTemplate": {"spec": {"template": t}}}}),
    ],
)
def test_workloads_use_their_pod_template(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile_file: str, kind: str, wrap: Any
) -> None:
    pod = make_pod(containers=[container(cpu="3", memory="5Gi")])
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod["spec"]}
    workload = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"}, **wrap(template)}
    code, out, err = _run(capsys, "-f", _write(tmp_path, "w.yaml", workload), "-p", profile_file)
    assert code == 0, err
    assert json.loads(out)["instanceSpec"] == "4.0-6.0Gi"  # cn-hangzhou: the regional table
    assert ("DaemonSet" in err) == (kind == "DaemonSet")


def test_stdin_and_namespace_labels(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, profile_file: str
) -> None:
    import io

    pod = make_pod(labels={"app": "etl"})
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(pod)))
    code, out, _ = _run(capsys, "-p", profile_file, "--namespace-labels", "team=batch,env=prod")
    assert code == 0
    result = json.loads(out)
    assert result["instanceSpec"] == "4.0-8.0Gi"
    assert result["matchedSelectors"] == ["batch"]
    assert result["sources"]["candidates"] == "selector:batch"
    assert result["effectLabels"] == {"tier": "batch"}


def test_text_output_explains_each_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile_file: str
) -> None:
    pod = make_pod(
        containers=[container(cpu="2", memory="17Gi")], annotations={"k8s.aliyun.com/eci-vswitch": "vsw-j"}
    )
    code, out, _ = _run(capsys, "-f", _write(tmp_path, "p.yaml", pod), "-p", profile_file, "-o", "text")
    assert code == 0
    assert "Instance spec   4.0-18.0Gi" in out
    assert "the containers need 2 vCPU / 17 GiB" in out
    assert "sized on the regional table (cn-hangzhou is one of the 12 regions with more specs)" in out
    assert "its largest memory is 16 GiB < 17 GiB" in out
    assert "vsw-j (cn-hangzhou-j)" in out
    assert "from the pod's annotation k8s.aliyun.com/eci-vswitch" in out
    assert "from the ECIProfile" in out


def _text(capsys: pytest.CaptureFixture[str], tmp_path: Path, pod: Any, profile: str) -> str:
    code, out, err = _run(capsys, "-f", _write(tmp_path, "p.yaml", pod), "-p", profile, "-o", "text")
    assert code == 0, err
    return out


def test_text_output_explains_an_off_table_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile_file: str
) -> None:
    pod = make_pod(annotations={"k8s.aliyun.com/eci-use-specs": "2-3Gi"})
    out = _text(capsys, tmp_path, pod, profile_file)
    assert "Instance spec   2.0-4.0Gi" in out
    assert "2.0-3.0Gi is not on the regional table (cn-hangzhou is one of the 12 regions" in out
    assert "rounded up to 2.0-4.0Gi (billed as rounded)" in out
    _, out, _ = _run(capsys, "-f", _write(tmp_path, "p.yaml", pod), "-p", profile_file)
    assert json.loads(out)["sources"]["candidates[0]"] == "rounded:2.0-3.0Gi"


def test_text_output_explains_ignored_containers_and_the_all_region_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = {
        **PROFILE,
        "regionId": "eu-central-1",
        "vSwitches": [{"id": "vsw-f", "zoneId": "eu-central-1-a", "cidr": "10.0.0.0/24"}],
        "simulation": {},
    }
    profile = _write(tmp_path, "eu.yaml", {**PROFILE_DOC, "spec": spec})
    ignore = [{"name": "__ECI_RESOURCE_IGNORE__", "value": "TRUE"}]
    pod = make_pod(
        containers=[
            container("a", cpu="2", memory="4Gi"),
            container("b", cpu="2", memory="4Gi"),
            container("sidecar", cpu="250m", memory="512Mi", env=ignore),
        ]
    )
    out = _text(capsys, tmp_path, pod, profile)
    assert "Instance spec   4.0-8.0Gi" in out
    assert "left out of the sum: sidecar (env __ECI_RESOURCE_IGNORE__=TRUE)" in out
    assert "sized on the all-region table (eu-central-1 is not one of the regions" in out


def test_multi_document_input_takes_the_first_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile_file: str
) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    first = make_pod(containers=[container(cpu="1", memory="2Gi")])
    second = make_pod(containers=[container(cpu="8")])
    second["metadata"]["name"] = "pod-b"
    code, out, err = _run(capsys, "-f", _write(tmp_path, "m.yaml", cm, first, second), "-p", profile_file)
    assert code == 0
    assert json.loads(out)["instanceSpec"] == "1.0-2.0Gi"
    assert "using the first (Pod/pod-a), ignoring Pod/pod-b" in err


def test_a_list_is_expanded(capsys: pytest.CaptureFixture[str], tmp_path: Path, profile_file: str) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [make_pod()]}
    code, out, _ = _run(capsys, "-f", _write(tmp_path, "l.yaml", listing), "-p", profile_file)
    assert code == 0
    assert json.loads(out)["sources"]["candidates"] == "default"


@pytest.mark.parametrize(
    ("pod_text", "profile_text", "extra", "message"),
    [
        (None, "{", [], "not valid YAML or JSON"),
        (
            "kind: Service\nmetadata: {name: s}\n",
            None,
            [],
            "no Pod or workload found (kinds in the input: Service)",
        ),
        ("- 1\n- 2\n", None, [], "is a list, not an object"),
        ("", None, [], "no document found"),
        (None, "kind: ConfigMap\nmetadata: {name: eci-profile}\n", [], "no ECIProfile found"),
        (None, None, ["--namespace-labels", "team"], "--namespace-labels: 'team' is not valid"),
        (
            "kind: Deployment\nmetadata: {name: d}\nspec: {}\n",
            None,
            [],
            "spec.template with a pod spec is missing",
        ),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    profile_file: str,
    pod_text: str | None,
    profile_text: str | None,
    extra: list[str],
    message: str,
) -> None:
    pod_path = tmp_path / "pod.yaml"
    pod_path.write_text(pod_text if pod_text is not None else yaml.safe_dump(make_pod()))
    profile_path = profile_file
    if profile_text is not None:
        profile_path = str(tmp_path / "bad-profile.yaml")
        Path(profile_path).write_text(profile_text)
    code, out, err = _run(capsys, "-f", str(pod_path), "-p", profile_path, *extra)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (
            {"k8s.aliyun.com/eci-use-specs": "65-3Gi"},
            "error: k8s.aliyun.com/eci-use-specs: '65-3Gi' is not valid: "
            "larger than the largest ECI spec; allowed: at most 64.0 vCPU and 512.0 GiB",
        ),
        (
            {"k8s.aliyun.com/eci-max-pending-minute": "5000"},
            "error: k8s.aliyun.com/eci-max-pending-minute: '5000' is not valid: out of range; "
            "allowed: an integer from 10 to 1440 (minutes)",
        ),
        (
            {"k8s.aliyun.com/eci-spot-price-limit": "0.5"},
            "error: k8s.aliyun.com/eci-spot-price-limit: '0.5' is not valid: "
            "k8s.aliyun.com/eci-spot-strategy is not set; "
            "allowed: only together with k8s.aliyun.com/eci-spot-strategy",
        ),
    ],
)
def test_bad_annotations(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    profile_file: str,
    annotations: dict[str, str],
    expected: str,
) -> None:
    code, out, err = _run(
        capsys, "-f", _write(tmp_path, "p.yaml", make_pod(annotations=annotations)), "-p", profile_file
    )
    assert (code, out) == (2, "")
    assert err == expected + "\n"


def test_bad_profile_names_the_field_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = {**PROFILE, "vSwitches": [{"id": "vsw-i", "zoneId": "cn-hangzhou-i", "cidr": "192.168.0.1/24"}]}
    profile = _write(tmp_path, "bad.yaml", {**PROFILE_DOC, "spec": spec})
    code, _, err = _run(capsys, "-f", _write(tmp_path, "p.yaml", make_pod()), "-p", profile)
    assert code == 2
    assert err.startswith(f"error: {profile}: spec.vSwitches[0].cidr: '192.168.0.1/24' is not valid: ")
    assert "host bits" in err


def test_missing_profile_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "-f", "-", "-p", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert err == f"error: {tmp_path / 'nope.yaml'}: cannot read: No such file or directory\n"


def test_installed_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "eci-operator"
    pod = yaml.safe_dump(make_pod(containers=[container(cpu="300m", memory="600Mi")]))
    done = subprocess.run(
        [str(script), "resolve", "-p", str(EXAMPLES / "profile.yaml")],
        input=pod,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["instanceSpec"] == "0.5-1.0Gi"
    bad = subprocess.run(
        [str(script), "resolve", "-p", str(EXAMPLES / "profile.yaml")],
        input="kind: Pod\nmetadata: {name: x, annotations: {k8s.aliyun.com/eci-fail-strategy: nope}}\n"
        "spec: {containers: [{name: a, image: b}]}\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: k8s.aliyun.com/eci-fail-strategy: 'nope' is not valid")
    assert "Traceback" not in bad.stderr
