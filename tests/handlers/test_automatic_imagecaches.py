"""ECI's automatic ImageCache, in-process: a burst of pods no cache matches makes one cache (one request),
off their path (they pull); later pods match it once Ready; a restart asks for no second one; an expired
automatic cache is removed and made again when a pod needs it."""

from __future__ import annotations

from typing import Any

from handler_helpers import Harness

from eci_operator.domain.imagecache_auto import automatic_name
from eci_operator.models import keys

IMC = "/apis/eci.alibabacloud.com/v1/imagecaches"
IMAGE = "registry.example/team/app:1"
PULLS = {"enabled": True, "autoCreateImageCache": True, "bandwidthMiBps": 100, "defaultImageSizeMiB": 200}


def group_spec(h: Harness, name: str) -> dict[str, Any]:
    body = h.server.get("containergroups", "ns", name)
    assert body is not None
    return dict(body["spec"])


def cache_posts(h: Harness) -> int:
    return sum(1 for m, p, _ in h.server.requests if m == "POST" and p == IMC)


async def test_a_burst_makes_one_cache_and_later_pods_match_it_once_ready(harness: Harness) -> None:
    harness.profile(simulation={"imagePulls": dict(PULLS)})
    await harness.settle()
    for i in range(5):
        harness.pod(f"p{i}", image=IMAGE)
    await harness.settle()
    name = automatic_name([IMAGE])
    assert cache_posts(harness) == 1
    cache = harness.server.get("imagecaches", "", name)
    assert cache is not None
    assert cache["metadata"]["labels"] == {keys.AUTO_IMAGE_CACHE_LABEL: "true"}
    assert cache["metadata"]["annotations"][keys.AUTO_IMAGE_CACHE_FOR] == "ns/p0"
    assert cache["spec"]["images"] == [IMAGE]
    assert cache["status"]["phase"] == "Creating"
    for i in range(5):  # the pods that asked pull normally: the cache is not on their path
        spec = group_spec(harness, f"p{i}")
        assert "imageCache" not in spec
        assert spec["lifecycle"]["pullSeconds"] == 2.0
    await harness.advance(45 + 2)  # demo build overhead, then the image at 100 MiB/s
    ready = harness.server.get("imagecaches", "", name)
    assert ready is not None
    assert ready["status"]["phase"] == "Ready"
    harness.pod("late", image=IMAGE)
    await harness.settle()
    assert group_spec(harness, "late")["imageCache"]["name"] == name
    assert cache_posts(harness) == 1


async def test_a_restart_asks_for_no_second_cache(harness: Harness) -> None:
    harness.profile(simulation={"imagePulls": dict(PULLS)})
    await harness.settle()
    harness.pod("a", image=IMAGE)
    await harness.settle()
    await harness.restart()
    harness.pod("b", image=IMAGE)  # the cache is still Creating: b pulls, and nothing new is asked for
    await harness.settle()
    assert cache_posts(harness) == 1
    assert "imageCache" not in group_spec(harness, "b")


async def test_an_expired_automatic_cache_is_removed_and_made_again_when_needed(harness: Harness) -> None:
    harness.profile(simulation={"imagePulls": dict(PULLS)})
    await harness.settle()
    harness.pod("a", image=IMAGE)
    await harness.settle()
    name = automatic_name([IMAGE])
    await harness.advance(7 * 86400 + 60)  # retention: 7 days after its start
    assert harness.server.get("imagecaches", "", name) is None
    harness.pod("b", image=IMAGE)
    await harness.settle()
    assert cache_posts(harness) == 2
    assert harness.server.get("imagecaches", "", name) is not None


async def test_a_users_cache_is_never_removed_by_the_operator(harness: Harness) -> None:
    harness.profile(simulation={"imagePulls": dict(PULLS)})
    await harness.settle()
    body = {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": "mine"},
        "spec": {"images": [IMAGE], "retentionDays": 1},
    }
    harness.request("POST", IMC, body)
    await harness.settle()
    await harness.advance(2 * 86400)
    assert harness.server.get("imagecaches", "", "mine") is not None
