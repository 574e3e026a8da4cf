"""Usage of pods on virtual nodes, in-process: Loads spread over Ready pods, their status, bad annotations.

The in-memory API server, the manual clock: the usage service reads the caches and the runtime only; its
one write per Load is the status patch, and only when the status changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from handler_helpers import GROUP_PATH, NODE, Harness
from prometheus_client.parser import text_string_to_metric_families

from eci_operator.domain.kubelet_stats import resource_metrics, summary
from eci_operator.domain.usage import CPU_USAGE_ANNOTATION

LOADS = f"{GROUP_PATH}/namespaces/ns/loads"


def load(h: Harness, cpu: str = "3", **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "Load",
        "metadata": {"name": "traffic", "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "perPod": {"cpu": "0"},
            "schedule": [{"durationSeconds": 600, "cpu": cpu}],
            **spec,
        },
    }
    return h.request("POST", LOADS, body)


async def running_pods(h: Harness, *names: str, **meta: Any) -> None:
    if h.server.get("eciprofiles", "", "default") is None:
        h.profile()
        await h.settle()
    for name in names:
        h.pod(name, labels={"app": "web"}, **meta)
    await h.settle()
    await h.advance(5)


async def test_a_load_is_spread_over_ready_pods_and_its_status_written_once(harness: Harness) -> None:
    await running_pods(harness, "a", "b")
    load(harness, cpu="3")
    await harness.settle()
    usage = harness.operator.usage
    reading = usage.reading()
    assert reading.containers[("ns", "a")][0].cpu == pytest.approx(1.5)
    mark = len(harness.server.requests)
    assert await usage.write_statuses() == 1
    assert harness.writes_since(mark) == [("PATCH", f"{LOADS}/traffic/status")]
    status = harness.server.get("loads", "ns", "traffic")["status"]  # type: ignore[index]
    assert (status["pods"], status["readyPods"], status["servedCPU"], status["unservedCPU"]) == (
        2,
        2,
        "3000m",
        "0m",
    )
    await harness.advance(10)
    assert await usage.write_statuses() == 0  # nothing changed: nothing written


async def test_demand_above_the_instances_is_reported_unserved(harness: Harness) -> None:
    await running_pods(harness, "a")  # a 2-vCPU instance
    load(harness, cpu="5")
    await harness.settle()
    await harness.operator.usage.write_statuses()
    status = harness.server.get("loads", "ns", "traffic")["status"]  # type: ignore[index]
    assert (status["servedCPU"], status["unservedCPU"]) == ("2000m", "3000m")


async def test_a_bad_usage_annotation_gets_one_warning_naming_it(harness: Harness) -> None:
    await running_pods(harness, "a", annotations={CPU_USAGE_ANNOTATION: "lots"})
    await running_pods(harness, "b", annotations={CPU_USAGE_ANNOTATION: "64"})
    usage = harness.operator.usage
    reading = usage.reading()
    usage.reading()
    await harness.settle()
    assert harness.events("a").count("InvalidUsageAnnotation") == 1
    assert harness.events("b").count("UsageAboveInstance") == 1
    messages = [e["message"] for e in harness.server.all("events") if e["reason"] == "UsageAboveInstance"]
    assert CPU_USAGE_ANNOTATION in messages[0]
    assert reading.containers[("ns", "b")][0].cpu == pytest.approx(2.0)  # capped at the instance


async def test_a_reading_decodes_only_the_pods_that_changed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await running_pods(harness, "a", "b", annotations={CPU_USAGE_ANNOTATION: "250m"})
    usage, pods = harness.operator.usage, harness.operator.caches.pods
    usage.reading()
    decoded: list[tuple[str, str]] = []
    real_get = pods.get
    monkeypatch.setattr(pods, "get", lambda key: decoded.append(key) or real_get(key))
    await harness.advance(1)
    assert set(usage.reading().containers) == {("ns", "a"), ("ns", "b")}
    assert decoded == []  # nothing changed: every input is the one made before
    patch = {"metadata": {"annotations": {CPU_USAGE_ANNOTATION: "500m"}}}
    harness.request("PATCH", "/api/v1/namespaces/ns/pods/b", patch)
    await harness.advance(1)
    decoded.clear()  # (the pod's own reconcile read it too)
    reading = usage.reading()
    assert decoded == [("ns", "b")]
    assert reading.containers[("ns", "b")][0].cpu == pytest.approx(0.5)  # the new annotation counts
    assert reading.containers[("ns", "a")][0].cpu == pytest.approx(0.25)
    harness.request("DELETE", "/api/v1/namespaces/ns/pods/a")
    await harness.advance(1)
    assert set(usage.reading().containers) == {("ns", "b")}


async def test_resource_metrics_and_summary_of_a_node(harness: Harness) -> None:
    await running_pods(harness, "a", annotations={CPU_USAGE_ANNOTATION: "250m"})
    await harness.advance(20)
    usage = harness.operator.usage
    reading = usage.reading()
    text = resource_metrics(reading, NODE, [("ns", "a")])
    samples = {
        (s.name, s.labels.get("pod", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("container_cpu_usage_seconds_total", "a")] > 0
    assert samples[("node_memory_working_set_bytes", "")] > 0
    assert samples[("scrape_error", "")] == 0
    body = summary(reading, NODE, reading.at, [(("ns", "a"), "uid", reading.at)])
    assert body["pods"][0]["cpu"]["usageNanoCores"] == 250_000_000


async def test_a_pod_waits_for_a_missing_secret_and_starts_once_it_exists(harness: Harness) -> None:
    harness.profile()
    await harness.settle()
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "needs"},
        "spec": {
            "nodeName": NODE,
            "containers": [
                {"name": "app", "image": "nginx", "envFrom": [{"secretRef": {"name": "db"}}]},
            ],
            "volumes": [{"name": "cfg", "configMap": {"name": "opt", "optional": True}}],
        },
    }
    harness.request("POST", "/api/v1/namespaces/ns/pods", body)
    await harness.settle()
    pod = harness.server.get("pods", "ns", "needs")
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}
    assert harness.server.get("containergroups", "ns", "needs") is None
    assert "MandatorySecretNotFound" in harness.events("needs")
    harness.request("POST", "/api/v1/namespaces/ns/secrets", {"metadata": {"name": "db"}, "data": {}})
    await harness.settle()
    await harness.advance(5)
    pod = harness.server.get("pods", "ns", "needs")
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    assert "OptionalConfigMapNotFound" in harness.events("needs")
