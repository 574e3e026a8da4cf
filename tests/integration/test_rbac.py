"""The deployment manifests on the real API server: they apply, and their RBAC is enough and no more.

The operator runs here as a local process with a token of the manifests' ServiceAccount (TokenRequest API),
so the ClusterRole is exercised by the real authorizer without a container image. The session operator is
stopped meanwhile and restarted afterwards (other tests share it).
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import GROUP, VERSION, node_ready, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, scrape, wait_for

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
SA, NAMESPACE = "eci-operator", "eci-system"


@pytest.fixture(scope="module")
def rbac(crds: None, kubectl: Any) -> Iterator[None]:
    """The manifests' namespace, ServiceAccount, ClusterRole and bindings (not the Deployment: no image)."""
    kubectl("apply", "-f", str(MANIFESTS / "namespace.yaml"), "-f", str(MANIFESTS / "rbac.yaml"))
    yield
    kubectl("delete", "-f", str(MANIFESTS / "rbac.yaml"), "--ignore-not-found", "--wait=false")
    kubectl("delete", "-f", str(MANIFESTS / "namespace.yaml"), "--ignore-not-found", "--wait=false")


@pytest.fixture(scope="module")
def sa_kubeconfig(
    rbac: None, kubeconfig: Path, kubectl: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A kubeconfig holding a TokenRequest token of eci-system/eci-operator and the cluster's CA."""
    token = kubectl("create", "token", SA, "-n", NAMESPACE, "--duration=2h").stdout.strip()
    admin = yaml.safe_load(kubeconfig.read_text())
    current = admin.get("current-context")
    context = next(c for c in admin["contexts"] if c["name"] == current)["context"] if current else None
    cluster_name = context["cluster"] if context else admin["clusters"][0]["name"]
    cluster = dict(next(c for c in admin["clusters"] if c["name"] == cluster_name)["cluster"])
    if "certificate-authority" in cluster:
        ca = Path(cluster.pop("certificate-authority"))
        if not ca.is_absolute():
            ca = kubeconfig.parent / ca
        cluster["certificate-authority-data"] = base64.b64encode(ca.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": SA, "user": {"token": token}}],
        "contexts": [{"name": SA, "context": {"cluster": "c", "user": SA}}],
        "current-context": SA,
    }
    path = tmp_path_factory.mktemp("sa") / "kubeconfig"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def as_sa(kubectl_bin: str, sa_kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_bin, f"--kubeconfig={sa_kubeconfig}", *args], capture_output=True, text=True, timeout=60
    )


def test_manifests_apply_with_server_side_dry_run(rbac: None, kubectl: Any) -> None:
    got = kubectl("apply", "-k", str(MANIFESTS), "--dry-run=server", check=False)
    assert got.returncode == 0, got.stderr
    for kind in (
        "serviceaccount/eci-operator",
        "clusterrole.rbac.authorization.k8s.io/eci-operator",
        "service/eci-operator",
        "deployment.apps/eci-operator",
        "poddisruptionbudget.policy/eci-operator",
        "role.rbac.authorization.k8s.io/eci-operator",
    ):
        assert kind in got.stdout
    assert "examples" not in kubectl("kustomize", str(MANIFESTS)).stdout  # examples are not deployed


def test_the_token_cannot_get_a_secret_by_name(sa_kubeconfig: Path, kubectl_bin: str) -> None:
    got = as_sa(kubectl_bin, sa_kubeconfig, "get", "secret", "any", "-n", "default")
    assert got.returncode != 0
    assert "Forbidden" in got.stderr
    assert 'secrets "any" is forbidden' in got.stderr
    assert as_sa(kubectl_bin, sa_kubeconfig, "auth", "can-i", "get", "secrets", "-A").stdout.strip() == "no"
    assert (
        as_sa(kubectl_bin, sa_kubeconfig, "auth", "can-i", "create", "pods", "-n", "default").stdout.strip()
        == "no"
    )
    assert as_sa(kubectl_bin, sa_kubeconfig, "auth", "can-i", "patch", "nodes/status").stdout.strip() == "yes"


def test_the_token_gets_the_eci_profile_configmap_and_no_other(sa_kubeconfig: Path, kubectl_bin: str) -> None:
    def can(*args: str) -> str:
        return as_sa(kubectl_bin, sa_kubeconfig, "auth", "can-i", *args).stdout.strip()

    assert can("get", "configmaps/eci-profile", "-n", "kube-system") == "yes"
    assert can("watch", "configmaps/eci-profile", "-n", "kube-system") == "yes"
    assert can("get", "configmaps", "-n", "kube-system") == "no"  # any other name
    # other ConfigMaps may be listed and watched (which exist: a pod needing a missing one waits), never got
    assert can("patch", "configmaps/eci-profile", "-n", "kube-system") == "no"  # it only reads it
    got = as_sa(kubectl_bin, sa_kubeconfig, "get", "configmap", "kube-root-ca.crt", "-n", "kube-system")
    assert got.returncode != 0
    assert "Forbidden" in got.stderr
    listed = as_sa(
        kubectl_bin,
        sa_kubeconfig,
        "get",
        "configmaps",
        "-n",
        "kube-system",
        "--field-selector=metadata.name=eci-profile",
    )
    assert listed.returncode == 0, listed.stderr  # list by field selector: what its informer does
    assert can("list", "vswitches.eci.ask.dev") == "yes"
    assert can("patch", "vswitches.eci.ask.dev", "--subresource=status") == "yes"


def test_the_token_may_touch_only_its_own_lease_and_tls_secret(sa_kubeconfig: Path, kubectl_bin: str) -> None:
    def can(*args: str) -> str:
        return as_sa(kubectl_bin, sa_kubeconfig, "auth", "can-i", *args).stdout.strip()

    assert can("patch", "leases/eci-operator", "-n", NAMESPACE) == "yes"
    assert can("patch", "leases/someone-else", "-n", NAMESPACE) == "no"
    assert can("patch", "leases/eci-operator", "-n", "kube-system") == "no"
    assert can("get", "secrets/eci-operator-webhook-tls", "-n", NAMESPACE) == "yes"
    assert can("create", "secrets", "-n", "default") == "no"  # creates its TLS Secret only at home
    assert can("get", "secrets/another", "-n", NAMESPACE) == "no"  # names only are listed elsewhere
    assert can("update", "leases/eci-operator", "-n", NAMESPACE) == "no"  # merge patches only


async def test_the_operator_with_its_service_account_serves_the_main_scenario(
    api: ApiClient,
    namespace: str,
    make_profile: Any,
    operator_process: OperatorProcess,
    sa_kubeconfig: Path,
    tmp_path: Path,
) -> None:
    core = client.CoreV1Api(api)
    operator_process.stop()
    # In its namespace as when deployed: the election Lease and the webhooks' shared TLS Secret there
    # (the Service does not exist here; with failurePolicy Ignore, admission is skipped meanwhile).
    scoped = OperatorProcess(
        str(sa_kubeconfig),
        str(tmp_path / "sa-operator.log"),
        f"--leader-election-namespace={NAMESPACE}",
        f"--webhook-service={NAMESPACE}/eci-operator",
    )
    try:
        scoped.start()
        profile = await make_profile()
        node = f"virtual-kubelet-{zone_of(profile)}"
        await wait_for(lambda: node_ready(api, node), 30, what=f"node {node} Ready (registered with the SA)")
        await core.create_namespaced_pod(
            namespace, virtual_pod("web", nodeSelector={"kubernetes.io/hostname": node})
        )

        async def running() -> bool:
            pod = await core.read_namespaced_pod("web", namespace)
            return pod.status.phase == "Running"

        await wait_for(running, 60, what="pod web Running")
        await core.delete_namespaced_pod("web", namespace)

        async def gone() -> bool:
            pods = await core.list_namespaced_pod(namespace, field_selector="metadata.name=web")
            return not pods.items

        await wait_for(gone, 60, what="pod web gone")
        # Retiring the node is part of the scenario (nodes: delete), and done before the session operator
        # is back: a profile deleted while an operator starts could be missed by it.
        custom = client.CustomObjectsApi(api)
        await custom.delete_cluster_custom_object(GROUP, VERSION, "eciprofiles", profile["metadata"]["name"])

        async def node_gone() -> bool:
            nodes = await core.list_node(field_selector=f"metadata.name={node}")
            return not nodes.items

        await wait_for(node_gone, 60, what=f"node {node} retired")
        denied = {
            labels: value
            for (name, labels), value in scrape(scoped.metrics_port).items()
            if name == "eci_operator_api_requests_total" and ("code", "403") in labels and value
        }
        assert not denied, f"requests the ServiceAccount was refused: {denied}"
        log = (tmp_path / "sa-operator.log").read_text()
        assert '"webhooks.registered"' in log
        assert '"webhooks.tls"' in log
        assert '"leader.started"' in log
        assert "orbidden" not in log, scoped.log_tail()
    finally:
        code = scoped.stop()
        operator_process.start()
    assert code in (0, None), scoped.log_tail()
