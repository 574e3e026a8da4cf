"""Test harness: what is real and what is not.

Unit tests (``tests/unit``) use no cluster. Integration tests (``tests/integration``) talk to a real
control plane — etcd, kube-apiserver, kube-controller-manager and kube-scheduler — never a mock:

* by default the local one under ``.cluster/`` (built by ``make cluster-build``), started once per session
  through the same state and pid files as ``make cluster-up``; if it was already running it is reused and
  left running, otherwise it is stopped at the end of the session (``ECI_KEEP_CLUSTER=1`` keeps it);
* or an existing cluster, e.g. kind: ``--kubeconfig PATH`` or ``ECI_TEST_KUBECONFIG=PATH``. The ambient
  ``KUBECONFIG`` is deliberately ignored so a test run never lands on a cluster by accident.

Each integration test gets its own namespace. Waiting goes through ``helpers.wait_for``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client import ApiClient

from helpers import wait_for

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kubeconfig",
        default=os.environ.get("ECI_TEST_KUBECONFIG"),
        help="run integration tests against this existing cluster instead of the local control plane",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in item.nodeid.replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.timeout(600))


@pytest.fixture(scope="session")
def kubeconfig(request: pytest.FixtureRequest) -> Iterator[Path]:
    given = request.config.getoption("--kubeconfig")
    if given:
        yield Path(given).resolve()
        return
    from eci_operator.devcluster.controlplane import ControlPlane, default_root

    # ECI_CLUSTER_DIR (with ECI_CLUSTER_*_PORT) gives a second, separate local cluster, e.g. for a second
    # test session running in parallel; its bin/ may be a symlink to .cluster/bin.
    plane = ControlPlane(default_root() if os.environ.get("ECI_CLUSTER_DIR") else REPO / ".cluster")
    was_running = plane.running()
    path = plane.up()
    yield path
    if not was_running and not os.environ.get("ECI_KEEP_CLUSTER"):
        plane.down()


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    local = REPO / ".cluster" / "bin" / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: run `make cluster-build` (it builds .cluster/bin/kubectl)")
    return found


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path, kubectl_bin: str) -> Any:
    """Run kubectl against the test cluster: ``kubectl("get", "pods", check=False, input=...)``."""

    def run(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [kubectl_bin, f"--kubeconfig={kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
async def api(kubeconfig: Path) -> AsyncIterator[ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    async with ApiClient(configuration=cfg) as api_client:
        yield api_client


@pytest.fixture
async def namespace(api: ApiClient) -> AsyncIterator[str]:
    """A fresh namespace with its default ServiceAccount (pods are refused before it exists)."""
    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    async def has_default_sa() -> bool:
        sas = await core.list_namespaced_service_account(name)
        return any(sa.metadata.name == "default" for sa in sas.items)

    await wait_for(has_default_sa, 60, what=f"ServiceAccount default in namespace {name}")
    yield name
    await core.delete_namespace(name)
