"""ECI's automatic ImageCache for a pod no cache matches (pure): when one is asked for, its deterministic
name, and what it holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from builders import container, make_pod, make_profile

from eci_operator.domain.imagecache_auto import automatic_cache, automatic_name, is_automatic
from eci_operator.domain.imagecache_match import AUTO_IMC, IMAGE_CACHE, IMC_ID, PERFECT_MATCH, CacheView
from eci_operator.domain.record import group_record
from eci_operator.models import keys
from eci_operator.models.profile import ImagePulls

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ZONE = "cn-hangzhou-i"
ON = ImagePulls()  # the defaults: pulls on, automatic caches on


def pod(annotations: dict[str, str] | None = None, images: tuple[str, ...] = ("app:1", "side:1")) -> Any:
    return make_pod(
        annotations=annotations,
        containers=[container(f"c{i}", image=image) for i, image in enumerate(images)],
        init_containers=[container("init", image=images[0])],
        nodeName=f"virtual-kubelet-{ZONE}",
        imagePullSecrets=[{"name": "regcred"}],
    )


def view(name: str, *images: str, phase: str = "Ready") -> CacheView:
    return CacheView(name, f"imc-{name}", images, T0, phase == "Ready", phase)


def wanted(p: Any, caches: Sequence[CacheView] = (), settings: ImagePulls = ON) -> dict[str, Any] | None:
    record, _ = group_record(p, "default", make_profile(), ZONE, namespace_labels={}, image_caches=caches)
    assert record.resolved is not None
    return automatic_cache(p, record.resolved, settings, caches)


def test_a_pod_no_cache_matches_asks_for_a_cache_of_its_images() -> None:
    body = wanted(pod())
    assert body is not None
    assert body["apiVersion"] == "eci.alibabacloud.com/v1"
    assert body["metadata"]["name"] == automatic_name(["app:1", "side:1"])
    assert body["metadata"]["name"].startswith("auto-")
    assert is_automatic(body)
    assert body["metadata"]["labels"] == {keys.AUTO_IMAGE_CACHE_LABEL: "true"}
    annotations = body["metadata"]["annotations"]
    assert annotations["k8s.aliyun.com/eci-vswitch"].startswith("vsw-")  # the pod's: its profile's model
    assert annotations[keys.AUTO_IMAGE_CACHE_FOR] == "default/pod-a"
    assert body["spec"] == {
        "images": ["app:1", "side:1"],  # init and app images, each once
        "retentionDays": 7,
        "imagePullSecrets": ["default:regcred"],
    }


def test_the_name_depends_on_the_set_of_images_only() -> None:
    assert automatic_name(["b", "a", "a"]) == automatic_name(["a", "b"])
    assert automatic_name(["a"]) != automatic_name(["a", "b"])
    first, second = wanted(pod(images=("x:1", "y:1"))), wanted(pod(images=("y:1", "x:1")))
    assert first is not None
    assert second is not None
    assert first["metadata"]["name"] == second["metadata"]["name"]


@pytest.mark.parametrize(
    "annotations",
    [{AUTO_IMC: "false"}, {IMAGE_CACHE: "false"}, {IMC_ID: "imc-pinned"}],
    ids=["auto-off", "legacy-off", "pinned"],
)
def test_nothing_is_created_when_the_pod_does_not_let_eci_pick(annotations: dict[str, str]) -> None:
    caches = [view("pinned", "other:1")]  # a pinned cache is used whatever its images
    assert wanted(pod(annotations), caches) is None


@pytest.mark.parametrize(
    "settings",
    [ImagePulls(enabled=False), ImagePulls(auto_create_image_cache=False)],
    ids=["pulls-off", "automatic-off"],
)
def test_nothing_is_created_when_the_profile_turns_it_off(settings: ImagePulls) -> None:
    assert wanted(pod(), settings=settings) is None


def test_a_ready_match_a_cache_on_its_way_or_the_same_name_means_no_new_cache() -> None:
    assert wanted(pod(), [view("ready", "app:1")]) is None  # matched: the pod uses it
    assert wanted(pod(), [view("building", "side:1", phase="Creating")]) is None  # will serve later pods
    name = automatic_name(["app:1", "side:1"])
    assert wanted(pod(), [view(name, "app:1", "side:1", phase="Failed")]) is None  # there already


def test_a_cache_that_would_not_satisfy_the_pods_rules_does_not_stop_a_new_one() -> None:
    perfect = {PERFECT_MATCH: "true"}
    body = wanted(pod(perfect), [view("half", "app:1"), view("half-too", "side:1", phase="Creating")])
    assert body is not None
    assert body["spec"]["images"] == ["app:1", "side:1"]


def test_at_most_twenty_images_go_in_one_cache() -> None:
    images = tuple(f"img{i}:1" for i in range(20))
    many = make_pod(
        containers=[container(f"c{i}", image=image) for i, image in enumerate(images)],
        init_containers=[container(f"i{i}", image=f"init{i}:1") for i in range(3)],
        nodeName=f"virtual-kubelet-{ZONE}",
    )
    body = wanted(many)
    assert body is not None
    assert body["spec"]["images"] == [f"init{i}:1" for i in range(3)] + [f"img{i}:1" for i in range(17)]
