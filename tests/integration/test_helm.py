"""`make cluster-build` builds helm into .cluster/bin at the pinned version, and it talks to the cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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
