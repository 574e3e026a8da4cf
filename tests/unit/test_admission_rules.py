"""Admission decisions (``domain.admission``) and the webhook configurations (``domain.webhooks``), pure."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from builders import PROFILE, make_pod, make_profile

from eci_operator.domain import admission as adm
from eci_operator.domain import pod_mutation as mutation
from eci_operator.domain import webhooks
from eci_operator.domain.configmap import KnownVSwitch, configmap_problems
from eci_operator.models import ECIProfile, ECIProfileSpec

TOLERATION = {"key": "virtual-kubelet.io/provider", "operator": "Exists"}
ZONE = "topology.kubernetes.io/zone"
USE_SPECS = "k8s.aliyun.com/eci-use-specs"
VSWITCH = "k8s.aliyun.com/eci-vswitch"

OTHER: dict[str, Any] = {
    "regionId": "cn-hangzhou",
    "vpcId": "vpc-other",
    "securityGroupId": "sg-k",
    "vSwitches": [{"id": "vsw-k", "zoneId": "cn-hangzhou-k", "cidr": "10.0.0.0/24"}],
}


@pytest.fixture
def profiles() -> dict[str, ECIProfileSpec]:
    return {"a": make_profile(selectors=[]), "b": ECIProfileSpec.model_validate(OTHER)}


OWNERS = {"cn-hangzhou-i": "a", "cn-hangzhou-j": "a", "cn-hangzhou-k": "b"}


def pod(**kw: Any) -> dict[str, Any]:
    body = make_pod(**kw)
    body["metadata"].setdefault("name", "p")
    body["metadata"].setdefault("namespace", "ns")
    return body


def apply_patch(body: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """Enough of RFC 6902 ``add`` and ``remove`` for the webhook's patches."""
    out = copy.deepcopy(body)
    for op in patch:
        assert op["op"] in ("add", "remove")
        parts = op["path"].strip("/").split("/")
        target = out
        for part in parts[:-1]:
            target = target[part]
        if op["op"] == "remove":
            del target[parts[-1]]
        else:
            target[parts[-1]] = copy.deepcopy(op["value"])
    return out


# ------------------------------------------------------------------------------------------ which pods
@pytest.mark.parametrize(
    ("spec", "labels", "ns_labels", "expected"),
    [
        ({}, {}, {}, False),
        ({"nodeName": "virtual-kubelet-cn-hangzhou-i"}, {}, {}, True),
        ({"nodeName": "worker-1"}, {}, {}, False),
        ({"tolerations": [TOLERATION]}, {}, {}, True),
        ({"tolerations": [{"operator": "Exists"}]}, {}, {}, False),  # a wildcard is not intent
        ({"nodeSelector": {"type": "virtual-kubelet"}}, {}, {}, True),
        ({"nodeSelector": {"eci.ask.dev/profile": "a"}}, {}, {}, True),
        ({"nodeSelector": {ZONE: "cn-hangzhou-i"}}, {}, {}, False),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "type", "operator": "In", "values": ["virtual-kubelet"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            {},
            {},
            True,
        ),
        ({}, {"alibabacloud.com/eci": "true"}, {}, True),
        ({}, {}, {"alibabacloud.com/eci": "true"}, True),
        ({}, {"alibabacloud.com/eci": "false"}, {"alibabacloud.com/eci": "true"}, False),
        ({}, {"alibabacloud.com/eci": "yes"}, {}, False),
    ],
)
def test_targets_virtual_nodes(
    spec: dict[str, Any], labels: dict[str, str], ns_labels: dict[str, str], expected: bool
) -> None:
    assert adm.targets_virtual_nodes(pod(labels=labels, **spec), namespace_labels=ns_labels) is expected


def test_daemonset_pods_never_count() -> None:
    body = pod(tolerations=[TOLERATION])
    body["metadata"]["ownerReferences"] = [
        {"kind": "DaemonSet", "name": "ds", "apiVersion": "apps/v1", "uid": "u"}
    ]
    assert not adm.targets_virtual_nodes(body, namespace_labels={})


# ------------------------------------------------------------------------------------ which profiles
def _affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]
            }
        }
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"nodeName": "virtual-kubelet-cn-hangzhou-k"}, ["b"]),
        ({"nodeName": "virtual-kubelet-cn-nowhere-z"}, []),
        ({"nodeName": "worker-1"}, []),
        ({"nodeSelector": {"type": "virtual-kubelet"}}, ["a", "b"]),
        ({"nodeSelector": {ZONE: "cn-hangzhou-j"}}, ["a"]),
        ({"nodeSelector": {"eci.ask.dev/profile": "b"}}, ["b"]),
        ({"nodeSelector": {"kubernetes.io/hostname": "virtual-kubelet-cn-hangzhou-k"}}, ["b"]),
        ({"nodeSelector": {ZONE: "cn-elsewhere-a"}}, []),
        ({"affinity": _affinity([{"key": ZONE, "operator": "In", "values": ["cn-hangzhou-k"]}])}, ["b"]),
        (  # terms are ORed: one unconstrained term leaves every zone open
            {"affinity": _affinity([{"key": ZONE, "operator": "In", "values": ["cn-hangzhou-k"]}], [])},
            ["a", "b"],
        ),
        (  # nodeSelector and affinity both apply
            {
                "nodeSelector": {ZONE: "cn-hangzhou-i"},
                "affinity": _affinity(
                    [{"key": ZONE, "operator": "In", "values": ["cn-hangzhou-i", "cn-hangzhou-k"]}]
                ),
            },
            ["a"],
        ),
    ],
)
def test_candidate_profiles(spec: dict[str, Any], expected: list[str]) -> None:
    assert adm.candidate_profiles(pod(**spec), OWNERS) == expected


def test_zone_owners_follow_the_operators_rule() -> None:
    def profile(name: str, created: str, zones: list[str]) -> ECIProfile:
        vswitches = [
            {"id": f"vsw-{name}-{i}", "zoneId": z, "cidr": f"10.{i}.0.0/16"} for i, z in enumerate(zones)
        ]
        return ECIProfile.model_validate(
            {
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {**OTHER, "vSwitches": vswitches},
            }
        )

    older = profile("older", "2024-01-01T00:00:00Z", ["cn-hangzhou-a", "cn-hangzhou-b"])
    newer = profile("newer", "2024-02-01T00:00:00Z", ["cn-hangzhou-b", "cn-hangzhou-c"])
    alone = profile("alone", "2024-03-01T00:00:00Z", ["cn-hangzhou-d"])
    profiles = {"older": older, "newer": newer, "alone": alone}
    assert adm.zone_owners(profiles, {}) == {
        "cn-hangzhou-a": "older",
        "cn-hangzhou-b": "older",
        "cn-hangzhou-d": "alone",
    }
    # incumbency: the profile serving the zone now keeps it (and loses nothing else)
    assert adm.zone_owners(profiles, {"cn-hangzhou-b": "newer"})["cn-hangzhou-b"] == "newer"


# ------------------------------------------------------------------------------------ pod validation
def _verdict(body: dict[str, Any], profiles: dict[str, ECIProfileSpec]) -> adm.PodVerdict:
    return adm.validate_pod_admission(body, profiles=profiles, owners=OWNERS, namespace_labels={})


def test_unsupported_spec_is_refused_with_field_value_and_allowed(
    profiles: dict[str, ECIProfileSpec],
) -> None:
    body = pod(
        annotations={USE_SPECS: "65-5Gi"}, nodeSelector={ZONE: "cn-hangzhou-i"}, tolerations=[TOLERATION]
    )
    verdict = _verdict(body, profiles)
    assert verdict.profiles == ("a",)
    assert not verdict.allowed
    assert verdict.errors[0].startswith("k8s.aliyun.com/eci-use-specs: '65-5Gi' is not valid: ")
    assert "allowed:" in verdict.errors[0]
    assert adm.denial("pod ns/p", verdict.errors).startswith(
        "pod ns/p: k8s.aliyun.com/eci-use-specs: '65-5Gi'"
    )


def test_every_problem_is_listed(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(
        annotations={
            USE_SPECS: "65-5Gi",
            VSWITCH: "vsw-nope",
            "eci.ask.dev/exit-after": "soon",
            "eci.ask.dev/startup-delay": "-1",
            "eci.ask.dev/exit-code": "300",
        },
        nodeSelector={ZONE: "cn-hangzhou-i"},
        hostNetwork=True,
    )
    text = "\n".join(_verdict(body, profiles).errors)
    for word in (USE_SPECS, "vsw-nope", "exit-after", "startup-delay", "exit-code", "spec.hostNetwork"):
        assert word in text, word


def test_runtime_conditions_are_not_judged(profiles: dict[str, ECIProfileSpec]) -> None:
    no_stock = make_profile(
        selectors=[],
        simulation={"zones": [{"zoneId": "cn-hangzhou-i", "available": False, "stock": {"2-4Gi": 0}}]},
    )
    body = pod(annotations={USE_SPECS: "2-4Gi"}, nodeSelector={ZONE: "cn-hangzhou-i"})
    assert _verdict(body, {**profiles, "a": no_stock}).allowed


def test_valid_for_one_candidate_is_enough(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(annotations={VSWITCH: "vsw-k"}, nodeSelector={"type": "virtual-kubelet"})
    verdict = _verdict(body, profiles)
    assert verdict.allowed
    assert verdict.profiles == ("a", "b")


def test_invalid_for_every_candidate_names_each_profile(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(
        annotations={VSWITCH: "vsw-nope", USE_SPECS: "65-5Gi"}, nodeSelector={"type": "virtual-kubelet"}
    )
    errors = _verdict(body, profiles).errors
    assert errors[0].startswith(USE_SPECS)  # common to both: once, unqualified
    assert sum(USE_SPECS in e for e in errors) == 1
    assert any("vsw-nope" in e and e.endswith('(ECIProfile "a")') for e in errors)
    assert any("vsw-nope" in e and e.endswith('(ECIProfile "b")') for e in errors)


def test_without_a_candidate_only_syntax_is_checked(profiles: dict[str, ECIProfileSpec]) -> None:
    unknown_zone = {"nodeSelector": {ZONE: "cn-elsewhere-a"}, "tolerations": [TOLERATION]}
    assert _verdict(pod(annotations={VSWITCH: "vsw-anything"}, **unknown_zone), profiles).allowed
    verdict = _verdict(pod(annotations={USE_SPECS: "65-5Gi", VSWITCH: "bad id"}, **unknown_zone), profiles)
    assert verdict.profiles == ()
    assert len(verdict.errors) == 2


def test_vswitches_outside_the_pods_zone_are_refused(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(annotations={VSWITCH: "vsw-j"}, nodeSelector={ZONE: "cn-hangzhou-i"})
    (error,) = _verdict(body, profiles).errors
    assert error.startswith("k8s.aliyun.com/eci-vswitch: 'vsw-j' is not valid: ")
    assert "cn-hangzhou-i" in error
    bound = pod(annotations={VSWITCH: "vsw-j"}, nodeName="virtual-kubelet-cn-hangzhou-j")
    assert _verdict(bound, profiles).allowed


def test_the_profiles_own_faults_are_not_the_pods(profiles: dict[str, ECIProfileSpec]) -> None:
    overlapping = make_profile(
        selectors=[],
        vSwitches=[
            {"id": "vsw-i", "zoneId": "cn-hangzhou-i", "cidr": "192.168.0.0/16"},
            {"id": "vsw-j", "zoneId": "cn-hangzhou-j", "cidr": "192.168.1.0/24"},
        ],
    )
    body = pod(nodeSelector={ZONE: "cn-hangzhou-i"})
    assert _verdict(body, {**profiles, "a": overlapping}).allowed


# -------------------------------------------------------------------------------------- pod mutation
def _patch(body: dict[str, Any], profiles: dict[str, ECIProfileSpec], **kw: Any) -> list[dict[str, Any]]:
    return mutation.pod_patch(
        body,
        namespace_labels=kw.get("ns_labels", {}),
        eci_namespace=kw.get("eci_namespace", False),
        profiles=profiles,
        owners=OWNERS,
    )


def test_eci_label_sends_the_pod_to_virtual_nodes(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(labels={"alibabacloud.com/eci": "true"}, nodeSelector={"disk": "ssd"})
    after = apply_patch(body, _patch(body, profiles))
    # ACK: the label "overrides nodeSelector, affinity and anti-affinity, and pod topology spread constraints"
    assert after["spec"]["nodeSelector"] == {"type": "virtual-kubelet"}
    assert after["spec"]["tolerations"] == [adm.VIRTUAL_NODE_TOLERATION]
    assert _patch(after, profiles) == []  # idempotent: a second call adds nothing


@pytest.mark.parametrize(
    "spec",
    [
        {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}},
        {"affinity": _affinity([{"key": ZONE, "operator": "In", "values": ["cn-elsewhere-a"]}])},
        {
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
            ]
        },
        {"nodeSelector": {"type": "gpu", "disk": "ssd"}},
    ],
)
def test_eci_label_overrides_placement(profiles: dict[str, ECIProfileSpec], spec: dict[str, Any]) -> None:
    body = pod(labels={"alibabacloud.com/eci": "true"}, **spec)
    patch = _patch(body, profiles)
    after = apply_patch(body, patch)
    assert after["spec"]["nodeSelector"] == {"type": "virtual-kubelet"}
    assert "affinity" not in after["spec"]
    assert "topologySpreadConstraints" not in after["spec"]
    for key in set(spec) - {"nodeSelector"}:
        assert {"op": "remove", "path": f"/spec/{key}"} in patch


def test_eci_label_override_keeps_the_vswitch_zone_affinity(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(
        labels={"alibabacloud.com/eci": "true"},
        annotations={VSWITCH: "vsw-j"},
        affinity=_affinity([{"key": "disk", "operator": "Exists"}]),
    )
    after = apply_patch(body, _patch(body, profiles))
    terms = after["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["cn-hangzhou-j"]}]}
    ]


@pytest.mark.parametrize(
    ("labels", "ns_labels", "eci_namespace", "mutated"),
    [
        ({}, {"alibabacloud.com/eci": "true"}, False, True),
        ({}, {}, True, True),  # the API server matched the namespace (cache may lag)
        ({"alibabacloud.com/eci": "false"}, {}, True, False),
        ({}, {}, False, False),
    ],
)
def test_eci_namespace(
    profiles: dict[str, ECIProfileSpec],
    labels: dict[str, str],
    ns_labels: dict[str, str],
    eci_namespace: bool,
    mutated: bool,
) -> None:
    body = pod(labels=labels)
    patch = _patch(body, profiles, ns_labels=ns_labels, eci_namespace=eci_namespace)
    assert bool(patch) is mutated


def test_never_overwrites_the_pods_own_toleration(profiles: dict[str, ECIProfileSpec]) -> None:
    own = {"key": "virtual-kubelet.io/provider", "operator": "Equal", "value": "alibabacloud"}
    body = pod(labels={"alibabacloud.com/eci": "true"}, nodeSelector={"type": "gpu"}, tolerations=[own])
    assert _patch(body, profiles) == [
        {"op": "add", "path": "/spec/nodeSelector", "value": {"type": "virtual-kubelet"}}
    ]


def test_vswitch_annotation_pins_the_zones(profiles: dict[str, ECIProfileSpec]) -> None:
    body = pod(annotations={VSWITCH: "vsw-j, vsw-i2"}, nodeSelector={"type": "virtual-kubelet"})
    after = apply_patch(body, _patch(body, profiles))
    terms = after["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["cn-hangzhou-j", "cn-hangzhou-i"]}]}
    ]
    assert _patch(after, profiles) == []


def test_vswitch_zones_are_anded_into_every_existing_term(profiles: dict[str, ECIProfileSpec]) -> None:
    disk = {"key": "disk", "operator": "In", "values": ["ssd"]}
    body = pod(
        annotations={VSWITCH: "vsw-k"},
        tolerations=[TOLERATION],
        affinity=_affinity([disk], [{"key": "arch", "operator": "Exists"}]),
    )
    after = apply_patch(body, _patch(body, profiles))
    terms = after["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    pinned = {"key": ZONE, "operator": "In", "values": ["cn-hangzhou-k"]}
    assert [t["matchExpressions"][-1] for t in terms["nodeSelectorTerms"]] == [pinned, pinned]


def test_bound_or_ordinary_pods_get_no_affinity(profiles: dict[str, ECIProfileSpec]) -> None:
    assert _patch(pod(annotations={VSWITCH: "vsw-j"}), profiles) == []  # not meant for virtual nodes
    bound = pod(annotations={VSWITCH: "vsw-j"}, nodeName="virtual-kubelet-cn-hangzhou-j")
    assert _patch(bound, profiles) == []


def test_selector_effects_are_made_visible_without_overwriting() -> None:
    profiles = {"a": make_profile(), "b": ECIProfileSpec.model_validate(OTHER)}  # "a" has selector "batch"
    body = pod(
        labels={"app": "etl", "tier": "mine"},
        nodeSelector={ZONE: "cn-hangzhou-i"},
        tolerations=[TOLERATION],
    )
    after = apply_patch(body, _patch(body, profiles, ns_labels={"team": "batch"}))
    assert after["metadata"]["annotations"][USE_SPECS] == "4-8Gi"
    assert after["metadata"]["annotations"][adm.SELECTORS_ANNOTATION] == "batch"
    assert after["metadata"]["labels"]["tier"] == "mine"
    own = pod(
        annotations={USE_SPECS: "1-2Gi"},
        labels={"app": "etl"},
        nodeSelector={ZONE: "cn-hangzhou-i"},
        tolerations=[TOLERATION],
    )
    after = apply_patch(own, _patch(own, profiles, ns_labels={"team": "batch"}))
    assert after["metadata"]["annotations"][USE_SPECS] == "1-2Gi"
    assert after["metadata"]["labels"]["tier"] == "batch"


def test_no_effects_when_several_profiles_may_serve() -> None:
    profiles = {"a": make_profile(), "b": ECIProfileSpec.model_validate(OTHER)}
    body = pod(labels={"app": "etl"}, nodeSelector={"type": "virtual-kubelet"}, tolerations=[TOLERATION])
    assert _patch(body, profiles, ns_labels={"team": "batch"}) == []


# -------------------------------------------------------------------------------- profile validation
def _profile_body(name: str = "x", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": name, "uid": "u", "managedFields": []},
        "spec": {**PROFILE, **spec},
    }


def _fields(errors: list[Any]) -> list[str]:
    return [e.field for e in errors]


def test_profile_problems_are_all_listed_with_paths() -> None:
    body = _profile_body(
        vSwitches=[
            {"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/16"},
            {"id": "vsw-b", "zoneId": "cn-hangzhou-j", "cidr": "10.0.1.0/24"},
        ],
        simulation={},
        selectors=[
            {
                "name": "s",
                "objectSelector": {
                    "matchLabels": {"bad key!": "v", "ok": "bad value!"},
                    "matchExpressions": [{"key": "-x", "operator": "In", "values": ["y"]}],
                },
                "effect": {"labels": {"/nope": "v"}, "annotations": {USE_SPECS: "65-5Gi"}},
            }
        ],
    )
    fields = _fields(adm.validate_profile_admission(body, old_body=None, others={}))
    assert fields == [
        "spec.vSwitches[1].cidr",
        f'spec.selectors[0].effect.annotations["{USE_SPECS}"]',
        "spec.selectors[0].objectSelector.matchLabels",
        'spec.selectors[0].objectSelector.matchLabels["ok"]',
        "spec.selectors[0].objectSelector.matchExpressions[0].key",
        "spec.selectors[0].effect.labels",
    ]


def test_schema_errors_are_translated() -> None:
    body = _profile_body(
        vSwitches=[{"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.1/16"}], vpcId="x"
    )
    errors = adm.validate_profile_admission(body, old_body=None, others={})
    assert set(_fields(errors)) == {"spec.vpcId", "spec.vSwitches[0].cidr"}
    assert all("allowed:" in e.message for e in errors)


def test_a_zone_claimed_by_another_profile_is_refused() -> None:
    others = {
        "y": ECIProfileSpec.model_validate(
            {**OTHER, "vSwitches": [{"id": "vsw-y", "zoneId": "cn-hangzhou-j", "cidr": "10.9.0.0/16"}]}
        )
    }
    (error,) = adm.validate_profile_admission(_profile_body(), old_body=None, others=others)
    assert error.field == "spec.vSwitches[1].zoneId"
    assert 'claimed by ECIProfile "y"' in error.message
    # an update that does not add the zone is not refused for it (the profile already lost it)
    old = _profile_body(securityGroupId="sg-old")
    assert adm.validate_profile_admission(_profile_body(), old_body=old, others=others) == []


def test_an_update_leaving_spec_alone_is_not_judged() -> None:
    bad = _profile_body(vSwitches=[{"id": "vsw-a", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.1/16"}])
    relabelled = copy.deepcopy(bad)
    relabelled["metadata"]["labels"] = {"x": "y"}
    assert adm.validate_profile_admission(relabelled, old_body=bad, others={}) == []


def test_a_shadowed_selector_effect_is_refused() -> None:
    everyone = {"name": "all", "effect": {"annotations": {USE_SPECS: "2-4Gi"}}}
    later = {
        "name": "batch",
        "objectSelector": {"matchLabels": {"app": "etl"}},
        "effect": {"annotations": {USE_SPECS: "4-8Gi"}},
    }
    (error,) = adm.validate_profile_admission(
        _profile_body(selectors=[everyone, later]), old_body=None, others={}
    )
    assert error.field == f'spec.selectors[1].effect.annotations["{USE_SPECS}"]'
    assert "never takes effect" in error.why
    # the specific one first is the intended order: fine
    assert (
        adm.validate_profile_admission(_profile_body(selectors=[later, everyone]), old_body=None, others={})
        == []
    )


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("team", True),
        ("example.com/team", True),
        ("a.b-c_d", True),
        ("", False),
        ("-a", False),
        ("a/", False),
        ("Example.com/x", False),
        ("x" * 64, False),
        ("a/b/c", False),
    ],
)
def test_key_syntax(key: str, ok: bool) -> None:
    assert (adm.key_problem(key) is None) is ok


# ---------------------------------------------------------------------------- webhook configurations
def test_configurations_are_scoped_and_never_block() -> None:
    endpoint = webhooks.Endpoint(ca_bundle="Q0E=", url_base="https://127.0.0.1:9443")
    validating = webhooks.validating_configuration(endpoint)
    mutating = webhooks.mutating_configuration(endpoint)
    every = validating["webhooks"] + mutating["webhooks"]
    assert {w["failurePolicy"] for w in every} == {"Ignore"}
    assert {w["clientConfig"]["caBundle"] for w in every} == {"Q0E="}
    pods = [w for w in every if w["rules"][0]["resources"] == ["pods"]]
    assert len(pods) == 3
    for hook in pods:
        assert hook["rules"][0]["operations"] == ["CREATE"]
        assert hook["timeoutSeconds"] == 5
        assert "kube-system" in str(hook["namespaceSelector"])
        assert hook["matchConditions"]
    profile_hook = validating["webhooks"][0]
    assert all(h["objectSelector"] == webhooks.NOT_SKIPPED for h in every)
    assert profile_hook["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert profile_hook["clientConfig"]["url"] == "https://127.0.0.1:9443/validate/eciprofiles"


def test_service_endpoint() -> None:
    endpoint = webhooks.Endpoint(
        ca_bundle="Q0E=", service_namespace="eci-system", service_name="eci-operator"
    )
    config = endpoint.client_config("/mutate/pods")
    assert config["service"] == {
        "namespace": "eci-system",
        "name": "eci-operator",
        "path": "/mutate/pods",
        "port": 443,
    }
    assert "url" not in config


def test_cel_mentions_every_signal() -> None:
    for signal in (
        "nodeName",
        "virtual-kubelet.io/provider",
        "virtual-kubelet",
        "eci.ask.dev/profile",
        "alibabacloud.com/eci",
        "nodeAffinity",
    ):
        assert signal in webhooks.FOR_VIRTUAL_NODES


def test_the_eci_profile_configmap_hook_sees_that_configmap_only() -> None:
    endpoint = webhooks.Endpoint(ca_bundle="Q0E=", url_base="https://127.0.0.1:9443")
    assert all(
        h["rules"][0]["resources"] != ["configmaps"]
        for h in webhooks.validating_configuration(endpoint)["webhooks"]
    )
    hook = webhooks.validating_configuration(endpoint, configmap=True)["webhooks"][-1]
    assert hook["rules"][0]["resources"] == ["configmaps"]
    assert hook["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    (condition,) = hook["matchConditions"]
    assert "object.metadata.name == 'eci-profile'" in condition["expression"]
    assert hook["clientConfig"]["url"] == "https://127.0.0.1:9443/validate/eci-profile-configmap"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, None),
        ({"selectors": "[{"}, "data.selectors: '[{' is not valid: not valid JSON"),
        ({"vSwitchIds": "vsw-a,vsw-x"}, "data.vSwitchIds: 'vsw-x' is not valid: no such vSwitch"),
        ({"vpcId": "vpc-b"}, "'vsw-a' is not valid: the vSwitch is in VPC vpc-a, not in vpcId vpc-b"),
        (
            {
                "selectors": json.dumps(
                    [{"name": "s", "effect": {"annotations": {"k8s.aliyun.com/eci-use-specs": "x"}}}]
                )
            },
            'spec.selectors[0].effect.annotations["k8s.aliyun.com/eci-use-specs"]',
        ),
    ],
)
def test_configmap_problems_are_what_the_operator_would_report(
    data: dict[str, str], problem: str | None
) -> None:
    base = {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"}
    known = {"vsw-a": KnownVSwitch("cn-hangzhou-i", "10.0.0.0/24", vpc_id="vpc-a")}
    errors = configmap_problems({**base, **data}, vswitches=known, name="p", source="cm")
    if problem is None:
        assert errors == []
    else:
        assert any(problem in str(e) for e in errors), errors
