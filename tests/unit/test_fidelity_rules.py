"""The rules checked against Alibaba's current pages (eci.md sections 2-5), one table per rule, through
``resolve`` / admission as the operator runs them, each worked example of the fact sheet included."""

from __future__ import annotations

from typing import Any

import pytest
from builders import PROFILE, container, make_pod, make_profile

from eci_operator.domain import annotations as ann
from eci_operator.domain import reserved_port_users, resolve, validate_pod
from eci_operator.domain.configmap import KnownVSwitch, configmap_to_profile
from eci_operator.domain.profile_admission import validate_profile_admission
from eci_operator.models import Arch, ECIProfileSpec, FailStrategy

IGNORE = [{"name": "__ECI_RESOURCE_IGNORE__", "value": "TRUE"}]
EU = {
    "regionId": "eu-central-1",
    "vSwitches": [{"id": "vsw-f", "zoneId": "eu-central-1-a", "cidr": "10.0.0.0/24"}],
    "simulation": {},
    "selectors": [],
}


def _resolve(pod: dict[str, Any], profile: ECIProfileSpec | None = None) -> Any:
    return resolve(pod, profile or make_profile(), namespace_labels={})


def _errors(pod: dict[str, Any], profile: ECIProfileSpec | None = None) -> list[Any]:
    return validate_pod(pod, profile or make_profile(), namespace_labels={})


@pytest.mark.parametrize(
    ("overrides", "containers", "spec", "table"),
    [
        ({}, [container(cpu="7", memory="13Gi")], "8.0-14.0Gi", "regional"),  # the page's worked example
        (EU, [container(cpu="7", memory="13Gi")], "8.0-16.0Gi", "all-regions"),
        ({}, [container(cpu="6", memory="12Gi")], "6.0-12.0Gi", "regional"),
        (EU, [container(cpu="6", memory="12Gi")], "8.0-16.0Gi", "all-regions"),
    ],
)
def test_the_profile_region_picks_the_table(
    overrides: dict[str, Any], containers: list[dict[str, Any]], spec: str, table: str
) -> None:
    resolution = _resolve(make_pod(containers=containers), make_profile(**overrides))
    assert (resolution.instance_spec, resolution.spec_table.value) == (spec, table)
    assert resolution.sources["specTable"] == f"region:{overrides.get('regionId', 'cn-hangzhou')}"


@pytest.mark.parametrize(
    ("use_specs", "overrides", "candidates", "rounded"),
    [
        ("6-12Gi", {}, ["6.0-12.0Gi"], {}),  # accepted as is in a regional region
        ("6-12Gi", EU, ["8.0-16.0Gi"], {"candidates[0]": "rounded:6.0-12.0Gi"}),
        ("2-3Gi", {}, ["2.0-4.0Gi"], {"candidates[0]": "rounded:2.0-3.0Gi"}),
        ("ecs.g7.large,2-3Gi", {}, ["ecs.g7.large", "2.0-4.0Gi"], {"candidates[1]": "rounded:2.0-3.0Gi"}),
        ("2-3Gi,2-4Gi", {}, ["2.0-4.0Gi"], {"candidates[0]": "rounded:2.0-3.0Gi"}),  # duplicate dropped
    ],
)
def test_off_table_use_specs_are_rounded_up_with_provenance(
    use_specs: str, overrides: dict[str, Any], candidates: list[str], rounded: dict[str, str]
) -> None:
    resolution = _resolve(make_pod(annotations={ann.USE_SPECS: use_specs}), make_profile(**overrides))
    assert [c.name for c in resolution.candidates] == candidates
    assert {k: v for k, v in resolution.sources.items() if k.startswith("candidates[")} == rounded


@pytest.mark.parametrize(
    ("overrides", "ignored_on", "spec", "ignored"),
    [
        # eci.md section 3, cn-hangzhou: 2C4G + 2C4G + 0.25C0.5G -> 6/10; the variable on the small one -> 4/8
        ({}, None, "6.0-10.0Gi", ()),
        ({}, "small", "4.0-8.0Gi", ("small",)),
        (EU, None, "8.0-16.0Gi", ()),
        (EU, "small", "4.0-8.0Gi", ("small",)),
        ({}, "a", "4.0-6.0Gi", ("a",)),  # 2.25 vCPU / 4.5 GiB on the regional table
    ],
)
def test_ignored_containers_are_left_out_of_the_sum(
    overrides: dict[str, Any], ignored_on: str | None, spec: str, ignored: tuple[str, ...]
) -> None:
    def make(name: str, cpu: str, memory: str) -> dict[str, Any]:
        extra = {"env": IGNORE} if name == ignored_on else {}
        return container(name, cpu=cpu, memory=memory, **extra)

    pod = make_pod(containers=[make("a", "2", "4Gi"), make("b", "2", "4Gi"), make("small", "250m", "512Mi")])
    resolution = _resolve(pod, make_profile(**overrides))
    assert resolution.instance_spec == spec
    assert resolution.ignored_containers == ignored
    assert ("ignoredContainers" in resolution.sources) is bool(ignored)


def test_the_ignore_variable_must_be_exactly_true() -> None:
    env = [{"name": "__ECI_RESOURCE_IGNORE__", "value": "true"}]
    pod = make_pod(containers=[container("a", cpu="2", memory="4Gi"), container("b", cpu="2", env=env)])
    assert _resolve(pod).ignored_containers == ()


@pytest.mark.parametrize(
    ("annotations", "containers", "spec"),
    [
        ({}, [container(cpu="250m", memory="512Mi")], "2.0-2.0Gi"),  # spot needs >= 2 vCPU
        ({}, [container(cpu="6", memory="12Gi")], "8.0-16.0Gi"),  # regional specs are never spot
        ({ann.USE_SPECS: "6-12Gi"}, [], "8.0-16.0Gi"),
        ({ann.USE_SPECS: "2-1Gi"}, [], "2.0-2.0Gi"),  # off the spot table: rounded up into it
        ({ann.USE_SPECS: "ecs.g7.large"}, [], "ecs.g7.large"),
    ],
)
def test_spot_is_sized_on_the_spot_table(
    annotations: dict[str, str], containers: list[dict[str, Any]], spec: str
) -> None:
    pod = make_pod(
        annotations={ann.SPOT_STRATEGY: "SpotAsPriceGo", **annotations},
        containers=containers or [container()],
    )
    resolution = _resolve(pod)
    assert resolution.instance_spec == spec
    assert resolution.spec_table.value == "spot"
    assert resolution.sources["specTable"] == "spot:cn-hangzhou"


@pytest.mark.parametrize(
    ("use_specs", "arm_node", "error"),
    [
        ("ecs.g8y.large", False, "spec.enableLinuxArm64Node: true"),
        ("ecs.g8y.large", True, None),
        ("ecs.g8y.large,ecs.c8y.large", True, None),
        ("ecs.g8y.large,2-4Gi", True, "arm types (ecs.g8y.large) cannot be mixed"),
        ("ecs.gn6i-c4g1.xlarge,ecs.g7.xlarge", False, "gpu types (ecs.gn6i-c4g1.xlarge) cannot be mixed"),
        ("ecs.i2.xlarge,ecs.i3.xlarge", False, None),
    ],
)
def test_arm_needs_the_arm_node_and_kinds_are_not_mixed(
    use_specs: str, arm_node: bool, error: str | None
) -> None:
    profile = make_profile(enableLinuxArm64Node=arm_node)
    pod = make_pod(annotations={ann.USE_SPECS: use_specs})
    errors = _errors(pod, profile)
    if error is None:
        assert errors == []
        resolution = _resolve(pod, profile)
        arm = resolution.candidates[0].arm
        assert resolution.arch is (Arch.ARM64 if arm else Arch.AMD64)
        group = resolution.container_group_spec(
            pod_name="p", pod_uid="u", node_name="n", zone_id="cn-hangzhou-i", profile_name="x"
        )
        assert group.arch is resolution.arch
    else:
        assert [e.field for e in errors] == [ann.USE_SPECS]
        assert error in str(errors[0])


def test_an_arm_type_from_a_selector_is_refused_naming_the_selector() -> None:
    selectors = [{"name": "arm", "effect": {"annotations": {ann.USE_SPECS: "ecs.c8y.large"}}}]
    errors = _errors(make_pod(), make_profile(selectors=selectors))
    assert "(set by selector 'arm')" in errors[0].why


GPU = {"limits": {"nvidia.com/gpu": "1"}}


@pytest.mark.parametrize(
    ("annotations", "resources", "gpus", "error"),
    [
        ({ann.USE_SPECS: "ecs.gn6i-c4g1.xlarge"}, GPU, 1, None),
        ({ann.USE_SPECS: "ecs.gn6v-c8g1.8xlarge"}, {"limits": {"nvidia.com/gpu": 4}}, 4, None),
        ({ann.USE_SPECS: "ecs.gn6i-c4g1.xlarge"}, {}, 1, None),  # a GPU type without GPU requests is fine
        ({}, GPU, 0, "no GPU ECS type in k8s.aliyun.com/eci-use-specs"),
        ({ann.USE_SPECS: "ecs.g7.xlarge"}, GPU, 0, "no GPU ECS type"),
        ({ann.USE_SPECS: "ecs.gn6i-c4g1.xlarge"}, {"requests": {"nvidia.com/gpu": "2"}}, 0, "fewer than 2"),
        ({ann.USE_SPECS: "ecs.gn6i-c4g1.xlarge"}, {"limits": {"nvidia.com/gpu": "0.5"}}, 0, "whole devices"),
    ],
)
def test_gpu_requests_need_a_gpu_type(
    annotations: dict[str, str], resources: dict[str, Any], gpus: int, error: str | None
) -> None:
    pod = make_pod(annotations=annotations, containers=[container(resources=resources)])
    errors = _errors(pod)
    if error is None:
        assert errors == []
        resolution = _resolve(pod)
        assert resolution.gpus == gpus
        spec = resolution.container_group_spec(
            pod_name="p", pod_uid="u", node_name="n", zone_id="cn-hangzhou-i", profile_name="x"
        )
        assert spec.gpus == gpus
        assert spec.candidates is not None
        assert spec.candidates[0].gpus == (gpus or None)
    else:
        assert "nvidia.com/gpu" in errors[0].field
        assert error in str(errors[0])


def test_fail_over_is_recorded_as_written() -> None:
    resolution = _resolve(make_pod(annotations={ann.FAIL_STRATEGY: "fail-over"}))
    assert resolution.fail_strategy is FailStrategy.FAIL_OVER
    assert resolution.sources["failStrategy"] == "annotation:" + ann.FAIL_STRATEGY


@pytest.mark.parametrize(("count", "ok"), [(20, True), (21, False)])
def test_at_most_20_volumes(count: int, ok: bool) -> None:
    volumes = [{"name": f"v{i}", "emptyDir": {}} for i in range(count)]
    errors = _errors(make_pod(volumes=volumes))
    assert (errors == []) is ok
    if not ok:
        assert (errors[0].field, errors[0].allowed) == ("spec.volumes", "at most 20")


def test_reserved_ports_are_reported_not_refused() -> None:
    pod = make_pod(
        containers=[
            container("web", ports=[{"containerPort": 80}, {"containerPort": 10250}]),
            container("rpc", ports=[{"containerPort": 111, "protocol": "UDP"}]),
        ],
        init_containers=[container("init", ports=[{"containerPort": 10255}])],
    )
    assert reserved_port_users(pod) == [
        ("spec.initContainers[0] (init)", 10255),
        ("spec.containers[0] (web)", 10250),
        ("spec.containers[1] (rpc)", 111),
    ]
    assert _errors(pod) == []
    assert reserved_port_users(make_pod()) == []


@pytest.mark.parametrize(
    ("cidr", "ok"),
    [("10.0.0.0/16", True), ("10.0.0.0/29", True), ("10.0.0.0/15", False), ("10.0.0.0/30", False)],
)
def test_vswitch_masks_16_to_29_at_profile_admission(cidr: str, ok: bool) -> None:
    spec = {
        **PROFILE,
        "vSwitches": [{"id": "vsw-i", "zoneId": "cn-hangzhou-i", "cidr": cidr}],
        "simulation": {},
    }
    body = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": "p"},
        "spec": spec,
    }
    errors = validate_profile_admission(body, old_body=None, others={})
    if ok:
        assert errors == []
    else:
        assert [(e.field, e.value) for e in errors] == [("spec.vSwitches[0].cidr", cidr)]
        assert "/16 to /29" in errors[0].allowed


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), (None, None)])
def test_from_configmap_converts_enable_linux_arm64_node(value: str | None, expected: bool | None) -> None:
    data = {"vSwitchIds": "vsw-a", "vpcId": "vpc-a", "securityGroupId": "sg-a"}
    if value is not None:
        data["enableLinuxArm64Node"] = value
    document, ignored = configmap_to_profile(
        data, vswitches={"vsw-a": KnownVSwitch("cn-hangzhou-i", "10.0.0.0/16")}, region=None, name="x"
    )
    assert document["spec"].get("enableLinuxArm64Node") == expected
    assert "enableLinuxArm64Node" not in ignored


@pytest.mark.parametrize(
    ("region", "key", "ok"),
    [
        ("cn-hangzhou", "6-12Gi", True),  # a regional spec
        ("eu-central-1", "6-12Gi", False),  # not offered there: no instance would use the stock
        ("cn-hangzhou", "2-3Gi", False),  # off every table
        ("cn-hangzhou", "ecs.gn6i-c4g1.xlarge", True),
        ("cn-hangzhou", "ecs.t5-c1m2.large", True),
    ],
)
def test_stock_keys_name_specs_of_the_region(region: str, key: str, ok: bool) -> None:
    zone = f"{region}-a"
    spec = {
        **PROFILE,
        "regionId": region,
        "selectors": [],
        "vSwitches": [{"id": "vsw-a", "zoneId": zone, "cidr": "10.0.0.0/24"}],
        "simulation": {"zones": [{"zoneId": zone, "stock": {key: 1}}]},
    }
    body = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": "p"},
        "spec": spec,
    }
    errors = validate_profile_admission(body, old_body=None, others={})
    assert (errors == []) is ok, errors
