"""Integration fixtures: the CRDs installed on the real cluster, the operator as a real process, profiles.

Real: the control plane (see tests/conftest.py), ``eci-operator run`` as a subprocess with its own
kubeconfig, the CRDs from crds/. Nothing is faked. Each profile a test creates uses zones of its own, and
is deleted afterwards together with its virtual nodes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import GROUP, VERSION, ProfileFactory, rand
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, wait_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
async def crds(kubectl: Any, api: ApiClient) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    extensions = client.ApiextensionsV1Api(api)

    async def established(name: str) -> bool:
        # (not `kubectl wait --for=condition=Established`: it fails at once while a new CRD has no
        # conditions yet, instead of waiting)
        crd = await extensions.read_custom_resource_definition(name)
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    names = [
        yaml.safe_load(p.read_text())["metadata"]["name"] for p in sorted((REPO / "crds").glob("*.yaml"))
    ]
    for name in names:  # every CRD in crds/
        await wait_for(lambda n=name: established(n), 60, what=f"CRD {name} Established")


@pytest.fixture(scope="session")
def operator_process(
    crds: None, kubeconfig: Path, kubectl: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    proc = OperatorProcess(str(kubeconfig), str(log))
    proc.start()
    yield proc
    code = proc.stop()
    # The operator keeps its webhook configurations on shutdown (failurePolicy Ignore); the tests remove them.
    kubectl(
        "delete",
        "validatingwebhookconfiguration,mutatingwebhookconfiguration",
        "eci-operator",
        "--ignore-not-found",
    )
    assert code in (0, None), f"operator exited {code} on SIGTERM:\n{proc.log_tail()}"


@pytest.fixture
async def make_profile(api: ApiClient, operator_process: OperatorProcess) -> AsyncIterator[ProfileFactory]:
    """Create ECIProfiles with zones of their own; delete them and wait for their nodes to go."""
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    created: list[str] = []

    async def make(zones: int = 1, *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
        name = f"p-{rand()}"
        region = f"cn-t{rand(4)}"
        # the image-pull model is off unless a test's simulation turns it on (tests of timing stay quick),
        # and so are ECI's automatic ImageCaches (cluster-scoped objects no test would clean up)
        pulls = spec.setdefault("simulation", {}).setdefault("imagePulls", {})
        pulls.setdefault("enabled", False)
        pulls.setdefault("autoCreateImageCache", False)
        vswitches = spec.pop("vSwitches", None) or [
            {"id": f"vsw-{name}-{i}", "zoneId": f"{region}-{chr(97 + i)}", "cidr": f"10.{i}.0.0/16"}
            for i in range(zones)
        ]
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ECIProfile",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {
                "regionId": region,
                "vpcId": "vpc-test",
                "securityGroupId": "sg-test",
                "vSwitches": vswitches,
                **spec,
            },
        }
        obj = await custom.create_cluster_custom_object(GROUP, VERSION, "eciprofiles", body)
        created.append(name)
        return dict(obj)

    yield make
    for name in created:
        try:
            await custom.delete_cluster_custom_object(GROUP, VERSION, "eciprofiles", name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise

    ours = {
        n.metadata.name
        for n in (await core.list_node(label_selector="eci.ask.dev/profile")).items
        if n.metadata.labels.get("eci.ask.dev/profile") in created
    }
    # A node goes once it holds no pod: delete the test's pods (the operator finishes them as a kubelet).
    for pod in (await core.list_pod_for_all_namespaces()).items:
        if pod.spec.node_name in ours:
            try:
                await core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise

    async def nodes_gone() -> bool:
        nodes = await core.list_node(label_selector="eci.ask.dev/profile")
        return not any(n.metadata.name in ours for n in nodes.items)

    await wait_for(nodes_gone, 90, what=f"virtual nodes {sorted(ours)} of deleted profiles to go")
