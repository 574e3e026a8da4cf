"""Helm: the pinned binary `make cluster-build` builds, and the chart charts/eci-operator (lint, template
with default values alone and with the switches, and a server-side dry run against the real control plane)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / ".cluster" / "bin" / "helm"


def pinned() -> str:
    for line in (REPO / "cluster" / "versions.env").read_text().splitlines():
        if line.startswith("HELM_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("no HELM_VERSION in cluster/versions.env")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make cluster-build`")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=60, check=False)


def test_helm_version_is_the_pinned_one() -> None:
    got = helm("version", "--short")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip().startswith(pinned())


def test_helm_lists_releases_of_the_test_cluster(kubeconfig: Path) -> None:
    got = helm("list", "--all-namespaces", f"--kubeconfig={kubeconfig}")
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("NAME")


CHART = REPO / "charts" / "eci-operator"


def rendered(*args: str) -> list[dict[str, Any]]:
    got = helm("template", "eci-operator", str(CHART), "--namespace", "eci-system", *args)
    assert got.returncode == 0, got.stderr
    return [d for d in yaml.safe_load_all(got.stdout) if d]


def test_the_chart_passes_helm_lint() -> None:
    got = helm("lint", str(CHART), "--strict")
    assert got.returncode == 0, got.stdout + got.stderr


def test_the_chart_renders_with_default_values_alone() -> None:
    docs = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in rendered()}
    deployment = docs[("Deployment", "eci-operator", "eci-system")]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-elect" in args
    assert "--webhook-service=eci-system/eci-operator" in args
    assert ("PodDisruptionBudget", "eci-operator", "eci-system") in docs
    role = docs[("Role", "eci-operator", "eci-system")]
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert {n for r in named for n in r["resourceNames"]} == {"eci-operator", "eci-operator-webhook-tls"}
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" in affinity


def test_values_switch_webhooks_metrics_and_election_off() -> None:
    docs = rendered(
        "--set", "webhooks.enabled=false", "--set", "metrics.enabled=false",
        "--set", "leaderElection.enabled=false", "--set", "replicas=1",
        "--set", "nodeAddress=10.1.2.3", "--set", "logFormat=console",
    )  # fmt: skip
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"--no-webhooks", "--no-leader-elect", "--metrics-port=0", "--log-format=console"} <= set(
        container["args"]
    )
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    env = {e["name"]: e for e in container["env"]}
    assert env["ECI_NODE_ADDRESS"]["value"] == "10.1.2.3"
    assert not any(d["kind"] == "Role" and d["metadata"]["namespace"] == "eci-system" for d in docs)


def test_the_chart_applies_with_a_server_side_dry_run(crds: None, kubeconfig: Path, kubectl: Any) -> None:
    got = helm("template", "eci-operator", str(CHART), "--namespace", "default", "--include-crds")
    assert got.returncode == 0, got.stderr
    applied = kubectl("apply", "--dry-run=server", "-f", "-", input=got.stdout, check=False)
    assert applied.returncode == 0, applied.stderr
    for kind in ("customresourcedefinition", "deployment.apps", "poddisruptionbudget.policy", "role.rbac"):
        assert kind in applied.stdout
