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
    match_rules,
)

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
