"""resolve(): precedence per field, container sizing, cross-annotation rules, unsupported pod features."""

from __future__ import annotations

from typing import Any

import pytest
from builders import container, make_pod, make_profile

from eci_operator.domain import DomainError, Resolution, resolve, validate_pod, vswitches_for_zone
from eci_operator.domain import annotations as ann
from eci_operator.models import (
    ContainerGroup,
    ContainerGroupSpec,
    ECIProfileSpec,
    ScheduleStrategy,
    SpotStrategy,
)

BATCH_NS = {"team": "batch"}
ETL = {"app": "etl"}


def _resolve(profile: ECIProfileSpec, pod: dict[str, Any], ns: dict[str, str] | None = None) -> Resolution:
    return resolve(pod, profile, namespace_labels=ns or {})


def _error(profile: ECIProfileSpec, pod: dict[str, Any], ns: dict[str, str] | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        resolve(pod, profile, namespace_labels=ns or {})
    return caught.value


# --- the instance spec: annotation > selector > containers > default ----------------------------------


@pytest.mark.parametrize(
    ("annotations", "labels", "ns", "containers", "spec", "source"),
    [
        (
            {ann.USE_SPECS: "2-4Gi"},
            ETL,
            BATCH_NS,
            [container(cpu="8")],
            "2.0-4.0Gi",
            "annotation:" + ann.USE_SPECS,
        ),
        ({}, ETL, BATCH_NS, [container(cpu="8")], "4.0-8.0Gi", "selector:batch"),
        ({}, ETL, {}, [container(cpu="8")], "8.0-4.0Gi", "containers"),
        ({}, {}, BATCH_NS, [container(cpu="1", memory="2Gi")], "1.0-2.0Gi", "containers"),
        ({}, {}, {}, [container()], "2.0-4.0Gi", "default"),
        ({}, {}, {}, [container(cpu="0", memory="0")], "2.0-4.0Gi", "default"),
    ],
)
def test_spec_precedence(
    profile: ECIProfileSpec,
    annotations: dict[str, str],
    labels: dict[str, str],
    ns: dict[str, str],
    containers: list[dict[str, Any]],
    spec: str,
    source: str,
) -> None:
    resolution = _resolve(
        profile, make_pod(annotations=annotations, labels=labels, containers=containers), ns
    )
    assert resolution.instance_spec == spec
    assert resolution.candidates[0].name == spec
    assert resolution.sources["candidates"] == source
    assert resolution.sources["instanceSpec"] == source


def test_candidates_are_exactly_the_annotation_in_order(profile: ECIProfileSpec) -> None:
    pod = make_pod(
        annotations={ann.USE_SPECS: "ecs.g7.xlarge, 2-4Gi,0.5-1Gi"}, containers=[container(cpu="64")]
    )
    resolution = _resolve(profile, pod)
    assert [c.name for c in resolution.candidates] == ["ecs.g7.xlarge", "2.0-4.0Gi", "0.5-1.0Gi"]
    assert (resolution.instance_spec, resolution.vcpu, resolution.memory_gib) == ("ecs.g7.xlarge", 4.0, 16.0)
    assert resolution.requested_vcpu == 64


# --- container sizing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "init", "spec"),
    [
        ([container(cpu="2")], None, "2.0-1.0Gi"),
        ([container(memory="4Gi")], None, "1.0-4.0Gi"),
        ([container(cpu="250m", memory="512Mi")], None, "0.25-0.5Gi"),
        ([container(cpu="300m")], None, "0.5-1.0Gi"),
        ([container(cpu="2", memory="17Gi")], None, "4.0-18.0Gi"),  # cn-hangzhou: the regional 4 vCPU row
        # the limit wins over the request, per resource
        ([container(cpu="1", limit_cpu="3", memory="1Gi")], None, "4.0-2.0Gi"),
        ([container(cpu="1", memory="8Gi", limit_memory="1Gi")], None, "1.0-2.0Gi"),
        # the app containers are summed
        ([container("a", cpu="1", memory="1Gi"), container("b", cpu="1", memory="3Gi")], None, "2.0-4.0Gi"),
        # the largest init container wins when it is larger than the sum
        (
            [container(cpu="1", memory="1Gi")],
            [container("i1", cpu="4"), container("i2", memory="8Gi")],
            "4.0-8.0Gi",
        ),
        ([container(cpu="2", memory="4Gi")], [container("i", cpu="1", memory="1Gi")], "2.0-4.0Gi"),
        # native sidecar (restartPolicy Always) adds to the app containers
        (
            [container(cpu="1", memory="2Gi")],
            [container("sidecar", cpu="1", memory="2Gi", restartPolicy="Always")],
            "2.0-4.0Gi",
        ),
        ([container(cpu=1, memory="1.5Gi")], None, "1.0-2.0Gi"),
        ([container(cpu=0.5, memory=2**30)], None, "0.5-1.0Gi"),
        ([container(cpu="64", memory="512Gi")], None, "64.0-512.0Gi"),
    ],
)
def test_container_sizing(
    profile: ECIProfileSpec, containers: list[dict[str, Any]], init: list[dict[str, Any]] | None, spec: str
) -> None:
    resolution = _resolve(profile, make_pod(containers=containers, init_containers=init))
    assert resolution.instance_spec == spec
    assert resolution.sources["candidates"] == "containers"


@pytest.mark.parametrize(
    ("containers", "init", "field", "allowed"),
    [
        ([container(cpu="65")], None, "spec.containers[*].resources", "at most 64.0 vCPU"),
        (
            [container("a", cpu="40"), container("b", cpu="25")],
            None,
            "spec.containers[*].resources",
            "64.0 vCPU",
        ),
        ([container(memory="513Gi")], None, "spec.containers[*].resources", "at most 512.0 GiB"),
        (
            [container(cpu="1")],
            [container("i", memory="600Gi")],
            "spec.initContainers[*].resources",
            "512.0 GiB",
        ),
    ],
)
def test_size_limits(
    profile: ECIProfileSpec,
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None,
    field: str,
    allowed: str,
) -> None:
    error = _error(profile, make_pod(containers=containers, init_containers=init))
    assert error.field == field
    assert allowed in error.allowed


def test_use_specs_bypasses_the_size_limit(profile: ECIProfileSpec) -> None:
    pod = make_pod(annotations={ann.USE_SPECS: "64-512Gi"}, containers=[container(cpu="100")])
    assert _resolve(profile, pod).instance_spec == "64.0-512.0Gi"


# --- vSwitches, schedule strategy, security groups -----------------------------------------------------


def test_profile_defaults(profile: ECIProfileSpec) -> None:
    resolution = _resolve(profile, make_pod())
    assert resolution.vswitch_ids == ("vsw-i", "vsw-j", "vsw-i2")
    assert resolution.zones == ("cn-hangzhou-i", "cn-hangzhou-j")
    assert resolution.schedule_strategy is ScheduleStrategy.RANDOM
    assert resolution.security_group_ids == ("sg-demo",)
    assert resolution.spot.strategy is SpotStrategy.NO_SPOT
    assert resolution.fail_strategy.value == "fail-back"
    assert resolution.max_pending_minutes == 240
    assert resolution.matched_selectors == ()
    assert resolution.sources == {
        "specTable": "region:cn-hangzhou",
        "candidates": "default",
        "instanceSpec": "default",
        "vSwitchIds": "profile",
        "scheduleStrategy": "default",
        "securityGroupIds": "profile",
        "spot.strategy": "default",
        "spot.durationHours": "default",
        "spot.fallback": "default",
        "failStrategy": "default",
        "maxPendingMinutes": "default",
    }


def test_annotations_override_the_profile(profile: ECIProfileSpec) -> None:
    pod = make_pod(
        annotations={
            ann.VSWITCH: "vsw-j,vsw-i",
            ann.SCHEDULE_STRATEGY: "VSwitchOrdered",
            ann.SECURITY_GROUP: "sg-extra,sg-demo",
            ann.FAIL_STRATEGY: "fail-fast",
            ann.MAX_PENDING_MINUTE: "10",
        }
    )
    resolution = _resolve(profile, pod)
    assert resolution.vswitch_ids == ("vsw-j", "vsw-i")
    assert resolution.vswitch_zones == {"vsw-j": "cn-hangzhou-j", "vsw-i": "cn-hangzhou-i"}
    assert resolution.schedule_strategy is ScheduleStrategy.ORDERED
    assert resolution.security_group_ids == ("sg-extra", "sg-demo")
    assert resolution.fail_strategy.value == "fail-fast"
    assert resolution.max_pending_minutes == 10
    for key, name in [
        ("vSwitchIds", ann.VSWITCH),
        ("scheduleStrategy", ann.SCHEDULE_STRATEGY),
        ("securityGroupIds", ann.SECURITY_GROUP),
        ("failStrategy", ann.FAIL_STRATEGY),
        ("maxPendingMinutes", ann.MAX_PENDING_MINUTE),
    ]:
        assert resolution.sources[key] == f"annotation:{name}"


@pytest.mark.parametrize(
    ("annotations", "field", "value", "allowed_part"),
    [
        ({ann.VSWITCH: "vsw-i,vsw-x"}, ann.VSWITCH, "vsw-x", "vsw-i (cn-hangzhou-i)"),
        ({ann.SECURITY_GROUP: "sg-nope"}, ann.SECURITY_GROUP, "sg-nope", "sg-demo, sg-extra, sg-other"),
        (
            {ann.SCHEDULE_STRATEGY: "Ordered"},
            ann.SCHEDULE_STRATEGY,
            "Ordered",
            "VSwitchOrdered, VSwitchRandom",
        ),
        ({ann.FAIL_STRATEGY: "retry"}, ann.FAIL_STRATEGY, "retry", "fail-back, fail-over, fail-fast"),
        ({ann.MAX_PENDING_MINUTE: "5"}, ann.MAX_PENDING_MINUTE, "5", "10 to 1440"),
        ({ann.USE_SPECS: "2-4Gi,2-4Gi"}, ann.USE_SPECS, "2.0-4.0Gi", "each item at most once"),
    ],
)
def test_annotation_errors(
    profile: ECIProfileSpec, annotations: dict[str, str], field: str, value: str, allowed_part: str
) -> None:
    error = _error(profile, make_pod(annotations=annotations))
    assert (error.field, error.value) == (field, value)
    assert allowed_part in error.allowed


# --- spot ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({ann.SPOT_STRATEGY: "SpotAsPriceGo"}, ("SpotAsPriceGo", None, 1, False)),
        (
            {ann.SPOT_STRATEGY: "SpotWithPriceLimit", ann.SPOT_PRICE_LIMIT: "0.250"},
            ("SpotWithPriceLimit", "0.25", 1, False),
        ),
        (
            {ann.SPOT_STRATEGY: "SpotAsPriceGo", ann.SPOT_DURATION: "0", ann.SPOT_FALLBACK: "true"},
            ("SpotAsPriceGo", None, 0, True),
        ),
        ({}, ("NoSpot", None, 0, False)),
    ],
)
def test_spot(profile: ECIProfileSpec, annotations: dict[str, str], expected: tuple[Any, ...]) -> None:
    spot = _resolve(profile, make_pod(annotations=annotations)).spot
    assert (spot.strategy.value, spot.price_limit, spot.duration_hours, spot.fallback) == expected


@pytest.mark.parametrize(
    ("annotations", "field", "value", "why"),
    [
        ({ann.SPOT_PRICE_LIMIT: "0.5"}, ann.SPOT_PRICE_LIMIT, "0.5", "eci-spot-strategy is not set"),
        (
            {ann.SPOT_STRATEGY: "SpotAsPriceGo", ann.SPOT_PRICE_LIMIT: "0.5"},
            ann.SPOT_PRICE_LIMIT,
            "0.5",
            "is SpotAsPriceGo",
        ),
        ({ann.SPOT_STRATEGY: "SpotWithPriceLimit"}, ann.SPOT_PRICE_LIMIT, None, "is SpotWithPriceLimit"),
        ({ann.SPOT_DURATION: "1"}, ann.SPOT_DURATION, "1", "is not set"),
        ({ann.SPOT_FALLBACK: "true"}, ann.SPOT_FALLBACK, "true", "is not set"),
        (
            {ann.SPOT_STRATEGY: "SpotWithPriceLimit", ann.SPOT_PRICE_LIMIT: "0.0001"},
            ann.SPOT_PRICE_LIMIT,
            "0.0001",
            "at most 3 decimals",
        ),
        ({ann.SPOT_STRATEGY: "SpotAsPriceGo", ann.SPOT_DURATION: "2"}, ann.SPOT_DURATION, "2", "protection"),
    ],
)
def test_spot_errors(
    profile: ECIProfileSpec, annotations: dict[str, str], field: str, value: str | None, why: str
) -> None:
    error = _error(profile, make_pod(annotations=annotations))
    assert (error.field, error.value) == (field, value)
    assert why in error.why


def test_missing_value_is_shown_as_not_set(profile: ECIProfileSpec) -> None:
    error = _error(profile, make_pod(annotations={ann.SPOT_STRATEGY: "SpotWithPriceLimit"}))
    assert str(error).startswith(f"{ann.SPOT_PRICE_LIMIT}: (not set) is not valid: ")


def test_an_invalid_strategy_is_reported_once(profile: ECIProfileSpec) -> None:
    pod = make_pod(annotations={ann.SPOT_STRATEGY: "Spot", ann.SPOT_PRICE_LIMIT: "0.5"})
    errors = validate_pod(pod, profile, namespace_labels={})
    assert [e.field for e in errors] == [ann.SPOT_STRATEGY]


# --- selectors -----------------------------------------------------------------------------------------


def test_selector_effects_and_pod_precedence(profile: ECIProfileSpec) -> None:
    pod = make_pod(labels={"app": "etl", "tier": "mine"}, annotations={ann.VSWITCH: "vsw-j"})
    resolution = _resolve(profile, pod, BATCH_NS)
    assert resolution.matched_selectors == ("batch",)
    assert resolution.effect_annotations == {ann.USE_SPECS: "4-8Gi"}
    assert resolution.effect_labels == {}  # the pod has its own tier label
    assert resolution.sources["candidates"] == "selector:batch"
    assert resolution.sources["vSwitchIds"] == f"annotation:{ann.VSWITCH}"


def test_selector_values_are_checked_against_the_profile() -> None:
    selectors = [{"name": "bad", "effect": {"annotations": {ann.VSWITCH: "vsw-x"}}}]
    profile = make_profile(selectors=selectors)
    error = _error(profile, make_pod())
    assert error.field == f'spec.selectors[0].effect.annotations["{ann.VSWITCH}"]'
    assert error.value == "vsw-x"


def test_errors_from_selector_values_name_the_selector() -> None:
    selectors = [{"name": "spotty", "effect": {"annotations": {ann.SPOT_PRICE_LIMIT: "0.5"}}}]
    error = _error(make_profile(selectors=selectors), make_pod())
    assert error.field == ann.SPOT_PRICE_LIMIT
    assert "selector 'spotty'" in error.why


# --- unsupported pod features and malformed pods -------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        (make_pod(hostNetwork=True), "spec.hostNetwork"),
        (
            make_pod(volumes=[{"name": "a", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/var"}}]),
            "spec.volumes[1].hostPath",
        ),
        (
            make_pod(containers=[container(securityContext={"privileged": True})]),
            "spec.containers[0].securityContext.privileged",
        ),
        (
            make_pod(init_containers=[container("i", securityContext={"privileged": True})]),
            "spec.initContainers[0].securityContext.privileged",
        ),
        (make_pod(containers=[]), "spec.containers"),
        (make_pod(containers=[{"name": "x"}]), "spec.containers[0].image"),
        (make_pod(containers=[container(cpu="lots")]), "spec.containers[0].resources.requests.cpu"),
        (make_pod(containers=[container(limit_memory="-1Gi")]), "spec.containers[0].resources.limits.memory"),
        (make_pod(containers=[{"name": "x", "image": "y", "resources": []}]), "spec.containers[0].resources"),
        (make_pod(containers="nope"), "spec.containers"),
        (make_pod(containers=[container() for _ in range(21)]), "spec.containers"),
        (
            make_pod(annotations={ann.MAX_PENDING_MINUTE: 30}),
            f'metadata.annotations["{ann.MAX_PENDING_MINUTE}"]',
        ),
    ],
)
def test_pod_errors_name_the_field(profile: ECIProfileSpec, pod: dict[str, Any], field: str) -> None:
    assert _error(profile, pod).field == field


def test_validate_pod_collects_every_error(profile: ECIProfileSpec) -> None:
    pod = make_pod(
        hostNetwork=True,
        annotations={ann.USE_SPECS: "65-9Gi", ann.VSWITCH: "vsw-x", ann.FAIL_STRATEGY: "x"},
        containers=[container(securityContext={"privileged": True})],
    )
    fields = [error.field for error in validate_pod(pod, profile, namespace_labels={})]
    assert fields == [
        "spec.hostNetwork",
        "spec.containers[0].securityContext.privileged",
        ann.USE_SPECS,
        ann.VSWITCH,
        ann.FAIL_STRATEGY,
    ]
    assert validate_pod(make_pod(), profile, namespace_labels={}) == []


def test_a_pod_that_is_not_an_object(profile: ECIProfileSpec) -> None:
    errors = validate_pod([], profile, namespace_labels={})  # type: ignore[arg-type]
    assert errors
    assert errors[0].field == "pod"


# --- zones and the ContainerGroup builder --------------------------------------------------------------


def test_vswitches_for_zone(profile: ECIProfileSpec) -> None:
    resolution = _resolve(profile, make_pod(annotations={ann.VSWITCH: "vsw-i2,vsw-j,vsw-i"}))
    assert [v.id for v in vswitches_for_zone(resolution, profile, "cn-hangzhou-i")] == ["vsw-i2", "vsw-i"]
    assert [v.cidr for v in vswitches_for_zone(resolution, profile, "cn-hangzhou-j")] == ["192.168.1.0/24"]
    only_j = _resolve(profile, make_pod(annotations={ann.VSWITCH: "vsw-j"}))
    with pytest.raises(DomainError) as caught:
        vswitches_for_zone(only_j, profile, "cn-hangzhou-i")
    assert caught.value.field == ann.VSWITCH
    assert "vsw-i, vsw-i2" in caught.value.allowed
    with pytest.raises(DomainError, match="a zone of the profile"):
        vswitches_for_zone(only_j, profile, "cn-hangzhou-z")


def test_container_group_builder(profile: ECIProfileSpec) -> None:
    pod = make_pod(
        annotations={ann.USE_SPECS: "2-4Gi,ecs.c7.large", ann.SPOT_STRATEGY: "SpotAsPriceGo"},
        init_containers=[container("init")],
        labels=ETL,
    )
    resolution = _resolve(profile, pod, BATCH_NS)
    group = resolution.container_group(
        pod_name="pod-a",
        pod_uid="uid-a",
        namespace="default",
        node_name="virtual-kubelet-cn-hangzhou-i",
        zone_id="cn-hangzhou-i",
        profile_name="default",
    )
    body = group.to_dict()
    assert body["apiVersion"] == "eci.ask.dev/v1alpha1"
    assert body["metadata"]["ownerReferences"][0] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "pod-a",
        "uid": "uid-a",
        "controller": True,
    }
    spec = body["spec"]
    assert spec["vSwitchIds"] == ["vsw-i", "vsw-i2"]
    assert spec["candidates"] == [
        {"spec": "2.0-4.0Gi", "vcpu": 2.0, "memoryGiB": 4.0},
        {"spec": "ecs.c7.large", "vcpu": 2.0, "memoryGiB": 4.0},
    ]
    assert spec["instanceSpec"] == "2.0-4.0Gi"
    assert spec["spot"] == {"strategy": "SpotAsPriceGo", "durationHours": 1, "fallback": False}
    assert spec["matchedSelectors"] == ["batch"]
    assert spec["initContainers"] == [{"name": "init", "image": "registry.example/init:1"}]
    assert ContainerGroup.model_validate(body) == group
    assert ContainerGroupSpec.model_validate(spec).zone_id == "cn-hangzhou-i"
    with pytest.raises(DomainError):
        resolution.container_group_spec(
            pod_name="p", pod_uid="u", node_name="n", zone_id="cn-hangzhou-x", profile_name="default"
        )


def test_resolution_is_frozen(profile: ECIProfileSpec) -> None:
    resolution = _resolve(profile, make_pod())
    with pytest.raises(ValueError, match="frozen"):
        resolution.instance_spec = "x"  # type: ignore[misc]
