"""The local control plane's node network: its names and addresses, and the mode switch (no ip calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eci_operator.devcluster import node_network
from eci_operator.devcluster.layout import Layout
from eci_operator.devcluster.processes import ClusterError


def test_names_are_per_cluster_directory_and_fit_interface_names(tmp_path: Path) -> None:
    one = node_network._names(Layout(tmp_path / "a"))
    two = node_network._names(Layout(tmp_path / "b"))
    assert one != two
    assert one == node_network._names(Layout(tmp_path / "a"))
    netns, host_if, ns_if, k = one
    assert len(host_if) <= 15
    assert len(ns_if) <= 15
    assert netns.startswith("eci-")
    assert 1 <= k <= 250


@pytest.mark.parametrize(
    ("value", "mode"), [("", "auto"), ("auto", "auto"), ("netns", "netns"), ("loopback", "loopback")]
)
def test_mode(monkeypatch: pytest.MonkeyPatch, value: str, mode: str) -> None:
    monkeypatch.setenv(node_network.ENV_FLAG, value)
    assert node_network.mode() == mode


def test_a_bad_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(node_network.ENV_FLAG, "bridge")
    with pytest.raises(
        ClusterError, match="ECI_CLUSTER_NODE_NETWORK='bridge' is not one of auto, netns, loopback"
    ):
        node_network.up(Layout(tmp_path), print)


def test_loopback_creates_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(node_network.ENV_FLAG, "loopback")
    assert node_network.up(Layout(tmp_path), print) is None
    assert not node_network.env_file(Layout(tmp_path)).exists()
