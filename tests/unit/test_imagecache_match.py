"""ECI's ImageCache matching rules for a new pod, table-driven (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from eci_operator.domain.errors import DomainError
from eci_operator.domain.imagecache_match import (
    AUTO_IMC,
    IMAGE_CACHE,
    IMC_ID,
    MATCH_COUNT,
    PERFECT_MATCH,
    CacheView,
    choose,
    image_start,
    match_rules,
)
from eci_operator.domain.pull_events import image_events
from eci_operator.models import ContainerGroupSpec, ContainerGroupStatus
from eci_operator.models.profile import ImagePulls, ZoneSimulation

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
POD = ["app:1", "sidecar:1"]
SIZES = {"app:1": 300.0, "sidecar:1": 50.0, "other:1": 10.0}


def cache(name: str, *images: str, age: int = 0, usable: bool = True, phase: str = "Ready") -> CacheView:
    return CacheView(name, f"imc-{name}", images, T0 - dt.timedelta(hours=age), usable, phase)


def pick(annotations: dict[str, str], caches: list[CacheView], images: list[str] = POD) -> str | None:
    found = choose(match_rules(annotations, images), images, caches, lambda i: SIZES.get(i, 100.0))
    return found.name if found else None


@pytest.mark.parametrize(
    ("annotations", "caches", "expected"),
    [
        ({}, [], None),
        ({}, [cache("a", "other:1")], None),  # nothing of the pod's images
        ({}, [cache("a", "sidecar:1")], "a"),  # one image is enough by default
        ({}, [cache("a", "sidecar:1"), cache("b", "app:1", "sidecar:1")], "b"),  # more images first
        ({}, [cache("a", "sidecar:1"), cache("b", "app:1")], "b"),  # then more MiB matched
        ({}, [cache("old", "app:1", age=5), cache("new", "app:1", age=1)], "new"),  # then the newer
        ({}, [cache("b", "app:1"), cache("a", "app:1")], "a"),  # then the name
        ({}, [cache("a", "app:1", "sidecar:1", usable=False, phase="Creating")], None),  # not Ready
        ({PERFECT_MATCH: "true"}, [cache("a", "app:1")], None),
        ({PERFECT_MATCH: "true"}, [cache("a", "app:1"), cache("b", "app:1", "sidecar:1", "x:1")], "b"),
        ({MATCH_COUNT: "2"}, [cache("a", "app:1")], None),
        ({MATCH_COUNT: "1"}, [cache("a", "app:1")], "a"),
        ({AUTO_IMC: "false"}, [cache("a", "app:1", "sidecar:1")], None),
        ({IMAGE_CACHE: "false"}, [cache("a", "app:1")], None),  # the legacy name
        ({IMAGE_CACHE: "false", AUTO_IMC: "true"}, [cache("a", "app:1")], "a"),  # eci-auto-imc wins
        ({IMC_ID: "imc-z", AUTO_IMC: "false"}, [cache("a", "app:1"), cache("z", "other:1")], "z"),  # pinned
    ],
)
def test_matching(annotations: dict[str, str], caches: list[CacheView], expected: str | None) -> None:
    assert pick(annotations, caches) == expected


def test_the_same_image_twice_counts_once() -> None:
    assert pick({PERFECT_MATCH: "true"}, [cache("a", "app:1")], ["app:1", "app:1"]) == "a"


@pytest.mark.parametrize(
    ("annotations", "field", "words"),
    [
        ({AUTO_IMC: "yes"}, AUTO_IMC, '"true" or "false"'),
        ({IMAGE_CACHE: "TRUE"}, IMAGE_CACHE, '"true" or "false"'),
        ({PERFECT_MATCH: "1"}, PERFECT_MATCH, '"true" or "false"'),
        ({MATCH_COUNT: "3"}, MATCH_COUNT, "from 1 to 2"),
        ({MATCH_COUNT: "0"}, MATCH_COUNT, "from 1 to 2"),
        ({MATCH_COUNT: "two"}, MATCH_COUNT, "from 1 to 2"),
        ({IMC_ID: "cache-1"}, IMC_ID, "imc-"),
    ],
)
def test_bad_annotations_name_the_annotation_and_what_is_allowed(
    annotations: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(DomainError) as caught:
        match_rules(annotations, POD)
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("caches", "words"),
    [
        ([], "does not exist"),
        ([cache("z", "app:1", usable=False, phase="Creating")], "is Creating (z)"),
    ],
)
def test_a_pinned_cache_must_be_ready(caches: list[CacheView], words: str) -> None:
    with pytest.raises(DomainError) as caught:
        pick({IMC_ID: "imc-z"}, caches)
    assert caught.value.field == IMC_ID
    assert words in str(caught.value)


def _pod(*images: str, **annotations: str) -> dict[str, object]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"metadata": {"annotations": annotations}, "spec": {"containers": containers}}


SETTINGS = ImagePulls.model_validate({"bandwidthMiBps": 10, "defaultImageSizeMiB": 100})


def test_without_a_cache_every_distinct_image_is_pulled_one_after_another() -> None:
    seconds, ref, pulls = image_start(_pod("app:1", "sidecar:1", "app:1"), SETTINGS, None, [])
    assert (seconds, ref) == (20, None)
    assert [(p.image, p.seconds) for p in pulls] == [("app:1", 10), ("sidecar:1", 10)]


def test_a_matched_cache_costs_its_start_and_the_images_not_in_it_are_pulled() -> None:
    seconds, ref, pulls = image_start(_pod("app:1", "sidecar:1"), SETTINGS, None, [cache("a", "app:1")])
    assert ref is not None
    assert (ref.name, ref.image_cache_id, ref.images) == ("a", "imc-a", ["app:1"])
    assert [p.image for p in pulls] == ["sidecar:1"]
    assert seconds == 1 + 10  # the demo cache start, then the one pull


def test_with_the_pull_model_off_nothing_is_pulled_but_the_match_is_recorded() -> None:
    off = SETTINGS.model_copy(update={"enabled": False})
    seconds, ref, pulls = image_start(_pod("app:1"), off, None, [cache("a", "app:1")])
    assert (seconds, pulls) == (0, [])
    assert ref is not None


def test_a_zone_bandwidth_applies_and_a_bad_annotation_is_refused_naming_it() -> None:
    zone = ZoneSimulation.model_validate({"zoneId": "cn-hangzhou-i", "pullBandwidthMiBps": 50})
    assert image_start(_pod("app:1"), SETTINGS, zone, [])[0] == 2
    with pytest.raises(DomainError) as caught:
        image_start(_pod("app:1", **{MATCH_COUNT: "9"}), SETTINGS, None, [])
    assert caught.value.field == MATCH_COUNT


def _spec(pulls: list[tuple[str, float]], cache_images: list[str] | None = None) -> ContainerGroupSpec:
    return ContainerGroupSpec.model_validate(
        {
            "podName": "p",
            "podUid": "u",
            "nodeName": "n",
            "profile": "default",
            "zoneId": "cn-hangzhou-i",
            "regionId": "cn-hangzhou",
            "candidates": [{"spec": "2.0-4.0Gi", "vcpu": 2, "memoryGiB": 4}],
            "instanceSpec": "2.0-4.0Gi",
            "vcpu": 2,
            "memoryGiB": 4,
            "vSwitchIds": ["vsw-1"],
            "lifecycle": {
                "pullSeconds": sum(s for _, s in pulls),
                "imagePulls": [{"image": i, "seconds": s} for i, s in pulls],
            },
            **(
                {"imageCache": {"name": "a", "imageCacheId": "imc-a", "images": cache_images}}
                if cache_images is not None
                else {}
            ),
        }
    )


def _status(**fields: object) -> ContainerGroupStatus:
    return ContainerGroupStatus.model_validate(fields)


def test_the_events_of_a_pull_look_like_a_kubelets() -> None:
    spec = _spec([("app:1", 4.0), ("sidecar:1", 0.5)])
    none, created = _status(), _status(instanceId="eci-1", phase="Pending")
    running = _status(
        instanceId="eci-1",
        phase="Running",
        startedAt="2026-01-01T00:00:05Z",
        containers=[
            {"name": "app", "state": "Running"},
            {"name": "init", "init": True, "state": "Terminated"},
        ],
    )
    assert image_events(spec, none, created) == [
        ("Pulling", 'Pulling image "app:1"'),
        ("Pulling", 'Pulling image "sidecar:1"'),
    ]
    assert image_events(spec, created, running) == [
        ("Pulled", 'Successfully pulled image "app:1" in 4s (4s including waiting)'),
        ("Pulled", 'Successfully pulled image "sidecar:1" in 500ms (4.5s including waiting)'),
        ("Created", "Created container app"),
        ("Started", "Started container app"),
    ]
    assert image_events(spec, running, running) == []  # once


def test_a_cache_hit_is_announced_and_its_images_are_already_present() -> None:
    spec = _spec([], cache_images=["app:1"])
    created = _status(instanceId="eci-1", phase="Pending")
    events = image_events(spec, _status(), created)
    assert [r for r, _ in events] == ["SuccessfulHitImageCache"]
    assert "imc-a" in events[0][1]
    running = _status(instanceId="eci-1", phase="Running", startedAt="2026-01-01T00:00:01Z")
    assert ("Pulled", 'Container image "app:1" already present on machine') in image_events(
        spec, created, running
    )


def test_with_the_pull_model_off_there_are_no_such_events() -> None:
    spec = _spec([])
    running = _status(instanceId="eci-1", phase="Running", startedAt="2026-01-01T00:00:01Z")
    assert image_events(spec, _status(), running) == []
