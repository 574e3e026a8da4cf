"""Admission webhooks on the real control plane: what is refused (with which words), what is added, and
that a stopped operator blocks nothing.

Profiles and pods go through ``kubectl`` where the test reads the refusal as a user sees it (stderr).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from cluster_helpers import ANN, GROUP, VERSION, node_ready, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import OperatorProcess, wait_for, wait_for_sync

ZONE = "topology.kubernetes.io/zone"
TOLERATION = {"key": "virtual-kubelet.io/provider", "operator": "Exists"}


def _probe_pod() -> str:
    """A pod the pod webhook refuses whatever profiles exist (syntax), for a server-side dry run."""
    pod = virtual_pod("admission-probe", annotations={ANN + "eci-use-specs": "65-5Gi"})
    return json.dumps(pod)


def _registered_port(kubectl: Any) -> str | None:
    got = kubectl("get", "validatingwebhookconfiguration", "eci-operator", "-o", "json", check=False)
    if got.returncode != 0:
        return None
    return str(json.loads(got.stdout)["webhooks"][0]["clientConfig"].get("url", ""))


def wait_admission(kubectl: Any, proc: OperatorProcess) -> None:
    """Until the API server calls this operator's webhooks (its configuration cache lags a moment)."""
    if f":{proc.webhook_port}/" not in (_registered_port(kubectl) or ""):
        proc.restart()  # another operator registered last (and is gone): this one re-registers at start

    def refused() -> bool:
        got = kubectl(
            "create", "-n", "default", "--dry-run=server", "-f", "-", input=_probe_pod(), check=False
        )
        return got.returncode != 0 and "denied the request" in got.stderr

    wait_for_sync(refused, 30, what="the pod webhook to answer")


@pytest.fixture(autouse=True)
def admission(operator_process: OperatorProcess, kubectl: Any) -> None:
    wait_admission(kubectl, operator_process)


def rand(n: int = 5) -> str:
    return uuid.uuid4().hex[:n]


def profile_doc(name: str, region: str, vswitches: list[dict[str, str]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ECIProfile",
        "metadata": {"name": name},
        "spec": {
            "regionId": region,
            "vpcId": "vpc-test",
            "securityGroupId": "sg-test",
            "vSwitches": vswitches,
            **spec,
        },
    }


def apply(kubectl: Any, doc: dict[str, Any], namespace: str | None = None) -> Any:
    args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
    return kubectl(*args, input=yaml.safe_dump(doc), check=False)


# ----------------------------------------------------------------------------------- configuration
def test_configurations_are_scoped_to_virtual_pods_and_never_block(kubectl: Any) -> None:
    validating = json.loads(
        kubectl("get", "validatingwebhookconfiguration", "eci-operator", "-o", "json").stdout
    )
    mutating = json.loads(kubectl("get", "mutatingwebhookconfiguration", "eci-operator", "-o", "json").stdout)
    hooks = validating["webhooks"] + mutating["webhooks"]
    assert {h["failurePolicy"] for h in hooks} == {"Ignore"}
    assert all(h["clientConfig"]["caBundle"] for h in hooks)
    pods = [h for h in hooks if h["rules"][0]["resources"] == ["pods"]]
    assert len(pods) == 3
    for hook in pods:
        assert hook["rules"][0]["operations"] == ["CREATE"]
        assert hook["timeoutSeconds"] == 5
        assert hook["matchConditions"]
        assert "kube-system" in json.dumps(hook["namespaceSelector"])
    profiles = validating["webhooks"][0]
    assert profiles["rules"][0]["resources"] == ["eciprofiles"]
    assert profiles["rules"][0]["operations"] == ["CREATE", "UPDATE"]


# ----------------------------------------------------------------------------------------- profiles
@pytest.fixture
def applied(kubectl: Any, api: ApiClient) -> Iterator[list[str]]:
    """Names of profiles a test applied with kubectl; deleted afterwards (their nodes go with them)."""
    names: list[str] = []
    yield names
    for name in names:
        kubectl("delete", "eciprofile", name, "--ignore-not-found")

    def nodes_gone() -> bool:
        got = kubectl("get", "nodes", "-l", "eci.ask.dev/profile", "-o", "json")
        labels = [n["metadata"]["labels"].get("eci.ask.dev/profile") for n in json.loads(got.stdout)["items"]]
        return not set(labels) & set(names)

    wait_for_sync(nodes_gone, 60, what=f"nodes of {names} to go")


def test_invalid_profile_is_refused_listing_every_violation(kubectl: Any, applied: list[str]) -> None:
    name, region = f"bad-{rand()}", f"cn-a{rand(4)}"
    doc = profile_doc(
        name,
        region,
        [
            {"id": "vsw-a", "zoneId": f"{region}-a", "cidr": "10.0.0.0/16"},
            {"id": "vsw-b", "zoneId": f"{region}-b", "cidr": "10.0.128.0/24"},
        ],
        selectors=[
            {
                "name": "s",
                "objectSelector": {"matchLabels": {"bad key": "x"}},
                "effect": {"labels": {"a": "b"}},
            }
        ],
    )
    got = apply(kubectl, doc)
    applied.append(name)
    assert got.returncode != 0
    assert "denied the request" in got.stderr
    assert (
        f"ECIProfile \"{name}\": spec.vSwitches[1].cidr: '10.0.128.0/24' is not valid: overlaps 10.0.0.0/16"
        in (got.stderr)
    )
    assert (
        f"ECIProfile \"{name}\": spec.selectors[0].objectSelector.matchLabels: 'bad key' is not valid"
        in got.stderr
    )
    assert "allowed:" in got.stderr
    assert kubectl("get", "eciprofile", name, check=False).returncode != 0


def test_a_zone_owned_by_another_profile_is_refused_and_valid_profiles_pass(
    kubectl: Any, applied: list[str]
) -> None:
    region = f"cn-b{rand(4)}"
    first, second = f"own-{rand()}", f"dup-{rand()}"
    ok = apply(
        kubectl, profile_doc(first, region, [{"id": "vsw-a", "zoneId": f"{region}-a", "cidr": "10.0.0.0/16"}])
    )
    applied.append(first)
    assert ok.returncode == 0, ok.stderr
    dup = profile_doc(second, region, [{"id": "vsw-z", "zoneId": f"{region}-a", "cidr": "10.1.0.0/16"}])
    got = apply(kubectl, dup)
    applied.append(second)
    assert got.returncode != 0
    assert (
        f"ECIProfile \"{second}\": spec.vSwitches[0].zoneId: '{region}-a' is not valid: zone {region}-a is "
        f'already claimed by ECIProfile "{first}"'
    ) in got.stderr
    # a valid edit of the owner passes (UPDATE is judged too)
    edit = profile_doc(
        first,
        region,
        [
            {"id": "vsw-a", "zoneId": f"{region}-a", "cidr": "10.0.0.0/16"},
            {"id": "vsw-b", "zoneId": f"{region}-b", "cidr": "10.1.0.0/16"},
        ],
    )
    assert apply(kubectl, edit).returncode == 0


# --------------------------------------------------------------------------------------------- pods
BAD_PODS = [
    pytest.param(
        {ANN + "eci-use-specs": "65-5Gi"},
        "k8s.aliyun.com/eci-use-specs: '65-5Gi' is not valid: ",
        id="unsupported-spec",
    ),
    pytest.param(
        {ANN + "eci-vswitch": "vsw-elsewhere"},
        "k8s.aliyun.com/eci-vswitch: 'vsw-elsewhere' is not valid: not a vSwitch of the ECIProfile",
        id="unknown-vswitch",
    ),
    pytest.param(
        {ANN + "eci-security-group": "sg-other"},
        "k8s.aliyun.com/eci-security-group: 'sg-other' is not valid: not allowed by the ECIProfile",
        id="foreign-security-group",
    ),
    pytest.param(
        {"eci.ask.dev/exit-after": "soon"},
        "eci.ask.dev/exit-after: 'soon' is not valid: ",
        id="lifecycle",
    ),
]


@pytest.mark.parametrize(("annotations", "message"), BAD_PODS)
async def test_pod_with_invalid_eci_annotations_is_refused(
    kubectl: Any, namespace: str, make_profile: Any, annotations: dict[str, str], message: str
) -> None:
    profile = await make_profile()
    pod = virtual_pod("bad", nodeSelector={ZONE: zone_of(profile)}, annotations=annotations)
    got = apply(kubectl, pod, namespace)
    assert got.returncode != 0
    assert f"pod {namespace}/bad: {message}" in got.stderr, got.stderr
    assert "allowed:" in got.stderr
    assert kubectl("get", "pod", "bad", "-n", namespace, check=False).returncode != 0


async def test_a_pod_asking_for_a_spec_out_of_stock_is_admitted(
    api: ApiClient, kubectl: Any, namespace: str, make_profile: Any
) -> None:
    region = f"cn-s{rand(4)}"
    zone = f"{region}-a"
    await make_profile(
        vSwitches=[{"id": f"vsw-{rand()}", "zoneId": zone, "cidr": "10.0.0.0/16"}],
        regionId=region,
        simulation={"zones": [{"zoneId": zone, "stock": {"2-4Gi": 0}}]},
    )
    pod = virtual_pod("nostock", nodeSelector={ZONE: zone}, annotations={ANN + "eci-use-specs": "2-4Gi"})
    got = apply(kubectl, pod, namespace)
    assert got.returncode == 0, got.stderr
    core = client.CoreV1Api(api)
    bound = await wait_for(
        lambda: _bound(core, namespace, "nostock"), 30, what="pod nostock bound to its virtual node"
    )
    assert bound == f"virtual-kubelet-{zone}"


async def _bound(core: client.CoreV1Api, namespace: str, name: str) -> str | None:
    return (await core.read_namespaced_pod(name, namespace)).spec.node_name


async def test_a_stopped_operator_blocks_nothing(
    api: ApiClient, kubectl: Any, namespace: str, make_profile: Any, operator_process: OperatorProcess
) -> None:
    profile = await make_profile()
    name = profile["metadata"]["name"]
    operator_process.stop()
    try:
        assert kubectl("get", "validatingwebhookconfiguration", "eci-operator", check=False).returncode == 0
        ordinary = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ordinary"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
        got = apply(kubectl, ordinary, namespace)
        assert got.returncode == 0, got.stderr
        # even a pod the webhook would refuse: failurePolicy Ignore (it fails at binding instead)
        unchecked = virtual_pod(
            "unchecked", nodeSelector={ZONE: "cn-nowhere-a"}, annotations={ANN + "eci-use-specs": "65-5Gi"}
        )
        got = apply(kubectl, unchecked, namespace)
        assert got.returncode == 0, got.stderr
        got = kubectl(
            "patch",
            "eciprofile",
            name,
            "--type=merge",
            "-p",
            '{"spec":{"simulation":{"seed":7}}}',
            check=False,
        )
        assert got.returncode == 0, got.stderr
    finally:
        operator_process.start()
    wait_admission(kubectl, operator_process)
    await _watching(api, name)  # before make_profile deletes the profile (see _watching)


async def _watching(api: ApiClient, name: str) -> None:
    """Until a fresh operator's watch delivers profile edits (proved by observedGeneration of a new edit).

    A profile deleted after the operator's initial list but before its watch starts would be missed.
    """
    custom = client.CustomObjectsApi(api)
    patched = await custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        "eciprofiles",
        name,
        {"spec": {"simulation": {"seed": 8}}},
        _content_type="application/merge-patch+json",
    )
    generation = patched["metadata"]["generation"]

    async def observed() -> bool:
        got = await custom.get_cluster_custom_object(GROUP, VERSION, "eciprofiles", name)
        return bool((got.get("status") or {}).get("observedGeneration") == generation)

    await wait_for(observed, 30, what=f"the operator to observe generation {generation} of {name}")


# ------------------------------------------------------------------------------------------ mutation
async def test_an_eci_namespace_sends_its_pods_to_virtual_nodes(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 30, what=f"node {node} Ready")
    await core.patch_namespace(namespace, {"metadata": {"labels": {"alibabacloud.com/eci": "true"}}})
    other = f"t-{rand(8)}"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        await wait_for(lambda: _has_default_sa(core, other), 60, what=f"ServiceAccount default in {other}")
        plain = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "app"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
        await core.create_namespaced_pod(namespace, plain)
        await core.create_namespaced_pod(other, plain)

        async def running() -> Any:
            pod = await core.read_namespaced_pod("app", namespace)
            return pod if pod.status.phase == "Running" else None

        pod = await wait_for(running, 60, what="the ECI namespace's pod Running on a virtual node")
        assert pod.spec.node_name.startswith("virtual-kubelet-")
        assert pod.spec.node_selector == {"type": "virtual-kubelet"}
        assert any(t.key == "virtual-kubelet.io/provider" for t in pod.spec.tolerations)
        elsewhere = await core.read_namespaced_pod("app", other)
        # (on kind it may run on the kind node: anything but a virtual one)
        assert not (elsewhere.spec.node_name or "").startswith("virtual-kubelet-")
        assert not elsewhere.spec.node_selector
        assert not any(t.key == "virtual-kubelet.io/provider" for t in elsewhere.spec.tolerations or [])
    finally:
        await core.delete_namespace(other)


async def _has_default_sa(core: client.CoreV1Api, namespace: str) -> bool:
    sas = await core.list_namespaced_service_account(namespace)
    return any(sa.metadata.name == "default" for sa in sas.items)


async def test_the_ack_label_overrides_node_selector_affinity_and_topology_spread(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    """ACK: "the label alibabacloud.com/eci=true has the highest priority and overrides nodeSelector,
    affinity and anti-affinity, and pod topology spread constraints" (a pod for ssd nodes still runs)."""
    core = client.CoreV1Api(api)
    profile = await make_profile()
    node = f"virtual-kubelet-{zone_of(profile)}"
    await wait_for(lambda: node_ready(api, node), 30, what=f"node {node} Ready")
    nowhere = {"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ack", "labels": {"alibabacloud.com/eci": "true", "app": "ack"}},
        "spec": {
            "nodeSelector": {"disktype": "ssd"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [nowhere]}
                },
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": {"app": "ack"}},
                            "topologyKey": "kubernetes.io/hostname",
                        }
                    ]
                },
            },
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "disktype",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "ack"}},
                }
            ],
            "containers": [{"name": "c", "image": "nginx"}],
        },
    }
    await core.create_namespaced_pod(namespace, pod)
    got = await core.read_namespaced_pod("ack", namespace)
    assert got.spec.node_selector == {"type": "virtual-kubelet"}
    assert got.spec.topology_spread_constraints is None
    assert got.spec.affinity is None or (
        got.spec.affinity.pod_anti_affinity is None and "disktype" not in str(got.spec.affinity.node_affinity)
    )

    async def running() -> Any:
        pod = await core.read_namespaced_pod("ack", namespace)
        return pod if pod.status.phase == "Running" else None

    ran = await wait_for(running, 60, what="the ACK-labelled pod Running on a virtual node")
    assert ran.spec.node_name.startswith("virtual-kubelet-")


async def test_eci_vswitch_pins_the_pod_to_that_zone(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    profile = await make_profile(zones=2)
    second = profile["spec"]["vSwitches"][1]
    pod = virtual_pod("pinned", annotations={ANN + "eci-vswitch": second["id"]})
    await core.create_namespaced_pod(namespace, pod)
    got = await core.read_namespaced_pod("pinned", namespace)
    required = got.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    terms = required.node_selector_terms
    assert [(e.key, e.operator, e.values) for t in terms for e in t.match_expressions] == [
        (ZONE, "In", [second["zoneId"]])
    ]

    async def running_in_zone() -> bool:
        pod = await core.read_namespaced_pod("pinned", namespace)
        return pod.status.phase == "Running" and pod.spec.node_name == f"virtual-kubelet-{second['zoneId']}"

    await wait_for(running_in_zone, 60, what=f"pod pinned Running in {second['zoneId']}")


async def test_selector_effects_are_visible_on_the_pod(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    core = client.CoreV1Api(api)
    selector = {
        "name": "web",
        "objectSelector": {"matchLabels": {"app": "web"}},
        "effect": {"annotations": {ANN + "eci-use-specs": "1-2Gi"}, "labels": {"tier": "frontend"}},
    }
    profile = await make_profile(selectors=[selector])
    pod = virtual_pod("web", nodeSelector={ZONE: zone_of(profile)})
    pod["metadata"]["labels"] = {"app": "web"}
    created = await core.create_namespaced_pod(namespace, pod)
    assert created.metadata.annotations[ANN + "eci-use-specs"] == "1-2Gi"
    assert created.metadata.annotations["eci.ask.dev/selectors"] == "web"
    assert created.metadata.labels["tier"] == "frontend"

    async def spec() -> str | None:
        got = await core.read_namespaced_pod("web", namespace)
        return (got.metadata.annotations or {}).get(ANN + "eci-instance-spec")

    assert await wait_for(spec, 60, what="pod web resolved") == "1.0-2.0Gi"
