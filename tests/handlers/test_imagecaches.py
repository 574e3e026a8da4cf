"""ASK's ImageCaches built in-process: Creating → Ready on the pull model's timeline, a missing pull secret,
a changed spec, a restart mid-build, a deleted cache."""

from __future__ import annotations

from typing import Any

from handler_helpers import Harness

from eci_operator.domain.kubetime import parse_time

IMC = "/apis/eci.alibabacloud.com/v1/imagecaches"


def _cache(harness: Harness, name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": name, "annotations": {"k8s.aliyun.com/eci-vswitch": "vsw-1"}},
        "spec": {"images": ["registry.example/app:1"], **spec},
    }
    return harness.request("POST", IMC, body)


def _status(harness: Harness, name: str) -> dict[str, Any]:
    body = harness.server.get("imagecaches", "", name)
    assert body is not None
    return dict(body.get("status") or {})


async def test_a_cache_goes_creating_then_ready_on_the_profiles_pull_model(harness: Harness) -> None:
    harness.profile(simulation={"imagePulls": {"bandwidthMiBps": 10, "defaultImageSizeMiB": 100}})
    await harness.settle()
    _cache(harness, "app", images=["registry.example/app:1", "registry.example/sidecar:1"])
    await harness.settle()
    status = _status(harness, "app")
    assert (status["phase"], status["progress"]) == ("Creating", "0%")
    assert status["imageCacheId"].startswith("imc-")
    await harness.advance(45 + 10)  # overhead 45 s (demo), then 10 s per image
    assert (_status(harness, "app")["phase"], _status(harness, "app")["progress"]) == ("Creating", "50%")
    await harness.advance(10)
    status = _status(harness, "app")
    assert (status["phase"], status["progress"]) == ("Ready", "100%")
    assert [e["name"] for e in status["events"]][-1] == "ImageCacheCreated"
    mark = len(harness.server.requests)
    harness.operator.imagecaches.queue.add("app")
    await harness.settle()
    assert harness.writes_since(mark) == []  # nothing changed: nothing written


async def test_a_missing_pull_secret_fails_the_cache_with_a_warning_naming_it(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    harness.request("POST", "/api/v1/namespaces/ns/secrets", {"metadata": {"name": "present"}})
    _cache(harness, "good", imagePullSecrets=["ns:present"])
    _cache(harness, "bad", imagePullSecrets=["ns:present", "ns:regcred"])
    await harness.settle()
    assert _status(harness, "good")["phase"] == "Creating"
    failed = _status(harness, "bad")
    assert failed["phase"] == "Failed"
    assert "ns:regcred" in failed["events"][0]["message"]
    assert "ImageCacheFailed" in harness.events("bad")
    (event,) = [e for e in harness.server.all("events") if e["involvedObject"]["name"] == "bad"]
    assert event["metadata"]["namespace"] == "default"
    assert "namespace" not in event["involvedObject"]  # cluster-scoped, as a Node's events
    harness.request("POST", "/api/v1/namespaces/ns/secrets", {"metadata": {"name": "regcred"}})
    await harness.advance(3600)
    assert _status(harness, "bad")["phase"] == "Failed"  # stays failed, as on ECI: recreate it


async def test_a_changed_spec_starts_a_new_build(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    _cache(harness, "app")
    await harness.settle()
    await harness.advance(120)
    assert _status(harness, "app")["phase"] == "Ready"
    harness.request("PATCH", f"{IMC}/app", {"spec": {"images": ["registry.example/app:2"]}})
    await harness.settle()
    status = _status(harness, "app")
    assert (status["phase"], status["observedGeneration"]) == ("Creating", 2)
    await harness.advance(120)
    assert _status(harness, "app")["phase"] == "Ready"


async def test_a_restarted_operator_resumes_a_build_from_its_recorded_start(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    _cache(harness, "app")
    await harness.settle()
    await harness.advance(20)
    started = _status(harness, "app")["startTime"]
    await harness.restart()
    await harness.advance(40)  # 60 s after the start: past the overhead (45 s) and the pull (4 s)
    status = _status(harness, "app")
    assert (status["phase"], status["startTime"]) == ("Ready", started)


async def test_a_cache_deleted_while_creating_is_forgotten(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    _cache(harness, "app")
    await harness.settle()
    harness.request("DELETE", f"{IMC}/app", {})
    await harness.advance(120)
    assert harness.server.get("imagecaches", "", "app") is None
    assert harness.operator.imagecaches.store.get(("", "app")) is None


PULLS = {"imagePulls": {"enabled": True, "bandwidthMiBps": 10, "defaultImageSizeMiB": 100}}


def _started(harness: Harness, name: str) -> float:
    group = harness.server.get("containergroups", "ns", name)
    assert group is not None
    status = group["status"]
    assert status["phase"] == "Running", status
    created = parse_time(status["instanceCreatedAt"])
    return (parse_time(status["startedAt"]) - created).total_seconds()


async def test_pods_pull_their_images_and_a_ready_cache_makes_them_start_faster(harness: Harness) -> None:
    harness.profile(simulation=PULLS)
    await harness.settle()
    _cache(harness, "app")  # registry.example/app:1
    await harness.settle()
    await harness.advance(60)  # Ready: overhead 45 s + 10 s pull
    assert _status(harness, "app")["phase"] == "Ready"
    harness.pod("cold", image="registry.example/other:1")
    harness.pod("warm", image="registry.example/app:1")
    await harness.settle()
    await harness.advance(11)
    assert _started(harness, "cold") == 10  # 100 MiB at 10 MiB/s
    assert _started(harness, "warm") == 1  # the cache's start (demo calibration)
    warm = harness.server.get("pods", "ns", "warm")
    assert warm is not None
    cache_id = _status(harness, "app")["imageCacheId"]
    assert warm["metadata"]["annotations"]["k8s.aliyun.com/eci-matched-image-cache"] == cache_id
    cold = harness.server.get("pods", "ns", "cold")
    assert cold is not None
    assert "k8s.aliyun.com/eci-matched-image-cache" not in cold["metadata"]["annotations"]
    assert {"Pulling", "Pulled", "Created", "Started"} <= set(harness.events("cold"))
    assert "SuccessfulHitImageCache" in harness.events("warm")
    assert "Pulling" not in harness.events("warm")


async def test_a_pinned_cache_not_ready_refuses_the_pod_naming_the_annotation(
    harness: Harness,
) -> None:
    harness.profile(simulation=PULLS)
    await harness.settle()
    _cache(harness, "app")
    await harness.settle()
    cache_id = _status(harness, "app")["imageCacheId"]
    harness.pod("pinned", annotations={"k8s.aliyun.com/eci-imc-id": cache_id})
    harness.pod("fine")
    await harness.settle()
    pinned = harness.server.get("pods", "ns", "pinned")
    assert pinned is not None
    assert pinned["status"]["phase"] == "Failed"
    assert "k8s.aliyun.com/eci-imc-id" in pinned["status"]["message"]
    assert "Creating" in pinned["status"]["message"]
    await harness.advance(10)
    assert _started(harness, "fine") == 10  # the others are served: nginx pulled, 100 MiB at 10 MiB/s


async def test_the_pull_override_annotation_decides_the_pull_time_alone(harness: Harness) -> None:
    harness.profile(simulation=PULLS)
    await harness.settle()
    harness.pod("scripted", annotations={"eci.ask.dev/image-pull-seconds": "3"})
    await harness.settle()
    group = harness.server.get("containergroups", "ns", "scripted")
    assert group is not None
    assert group["spec"]["lifecycle"]["pullSeconds"] == 3
    await harness.advance(3)
    assert _started(harness, "scripted") == 3
    assert "Pulling" not in harness.events("scripted")  # one figure for all pulls: no per-image events
