"""ASK's ImageCaches built in-process: Creating → Ready on the pull model's timeline, a missing pull secret,
a changed spec, a restart mid-build, a deleted cache."""

from __future__ import annotations

from typing import Any

from handler_helpers import Harness

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
