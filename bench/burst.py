"""The ``burst`` scenario: a real HPA absorbs a step of load, from 1 replica to N (issue #16).

One Deployment at 1 replica (pods request 100m and get a 2-vCPU instance through ``eci-use-specs``, so a
pod can use 20x its request, as on ECI), one HPA (min 1, max N, target 50 % CPU utilisation, scale-up
``behavior`` allowing N pods per 15 s with no stabilisation, so the climb is bounded by the metrics and not
by the HPA's default doubling), and, once the first pod is Ready and the HPA sees its metrics, a ``Load``
step of N x 60m: 20 % more than N replicas serve at the target, so the HPA's maximum, not its tolerance,
decides where it stops. The same metrics-server and the same HPA
controller for every run. Measured from the step (the Load's creation):

* the HPA's first decision (the Deployment's ``spec.replicas`` first above 1),
* N replicas decided, N pods created (seen in the watch), N pods Ready,
* the cost of the burst up to N Ready, from the ContainerGroups' billed intervals (``domain.bill``),
* a time series every 0.5 s (replicas decided, pods created, pods Ready, per-pod CPU as the HPA sees it)
  for the plot.

Image pulls are on (demo calibration) on a virtual node of its own (profile ``bench-burst``); the run is
made twice: without an ImageCache (the pods say ``eci-auto-imc: "false"``) and with a Ready ImageCache of
the image (built before the run, not timed). Deletion (HPA and Load removed, the Deployment scaled to 0) is
measured like the other scenarios.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from kube import Api, PodTracker
from measure import cpu_of, curve, proc_sample, reset_peak_rss

Say = Callable[[str], None]

IMAGE = "registry.example/bench/burst:1"
REQUEST_CPU = 0.1  # cores per pod
TARGET_UTILISATION = 50  # %, of the request
LOAD = "eci.ask.dev/v1alpha1"
IMC = "/apis/eci.alibabacloud.com/v1/imagecaches"
BURST_PROFILE = "bench-burst"
BURST_ZONE = "cn-bench-b"
BURST_NODE = f"virtual-kubelet-{BURST_ZONE}"


def burst_profile(**pulls: Any) -> dict[str, Any]:
    """The burst's ECIProfile: its own zone and node, image pulls on at the demo calibration (``pulls``
    overrides its fields, e.g. ``cacheBuildOverheadSeconds`` for the smoke test)."""
    return {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": BURST_PROFILE},
        "spec": {
            "regionId": "cn-bench",
            "vpcId": "vpc-bench",
            "securityGroupId": "sg-bench",
            "vSwitches": [{"id": "vsw-bench-b", "zoneId": BURST_ZONE, "cidr": "10.129.0.0/16"}],
            "virtualNodeTaint": True,
            "simulation": {"imagePulls": {"enabled": True, **pulls}},
        },
    }


def burst_deployment(cached: bool) -> dict[str, Any]:
    annotations = {"k8s.aliyun.com/eci-use-specs": "2-4Gi"}
    if not cached:
        annotations["k8s.aliyun.com/eci-auto-imc"] = "false"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "burst"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "burst"}},
            "template": {
                "metadata": {"labels": {"app": "burst"}, "annotations": annotations},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {
                                "requests": {"cpu": f"{int(REQUEST_CPU * 1000)}m", "memory": "128Mi"}
                            },
                        }
                    ],
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 30,
                    "nodeSelector": {"type": "virtual-kubelet", "topology.kubernetes.io/zone": BURST_ZONE},
                    "tolerations": [
                        {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                },
            },
        },
    }


def burst_hpa(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "burst"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burst"},
            "minReplicas": 1,
            "maxReplicas": n,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": TARGET_UTILISATION},
                    },
                }
            ],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": n, "periodSeconds": 15}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                },
            },
        },
    }


HEADROOM = 1.2  # the step asks for 20 % more than N replicas serve at the target


def step_cores(n: int) -> float:
    """N x request x target x HEADROOM: at N replicas the pods run at 60 %, so the HPA wants 1.2 N and its
    maximum holds it at N. Without the headroom its 10 % tolerance can settle it a few pods short of N (seen:
    996 of 1,000) and N Ready never comes."""
    return round(n * REQUEST_CPU * TARGET_UTILISATION / 100 * HEADROOM, 3)


def burst_load(n: int) -> dict[str, Any]:
    return {
        "apiVersion": LOAD,
        "kind": "Load",
        "metadata": {"name": "burst"},
        "spec": {
            "selector": {"matchLabels": {"app": "burst"}},
            "schedule": [{"durationSeconds": 3600, "cpu": f"{int(step_cores(n) * 1000)}m"}],
        },
    }


def image_cache(name: str) -> dict[str, Any]:
    """An ImageCache in Alibaba's documented form for the burst's image."""
    return {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": name},
        "spec": {"images": [IMAGE], "imageCacheSize": 20, "retentionDays": 1},
    }


class BurstRun:
    """One variant (cached or not) of the burst in its own namespace; ``run`` returns its figures."""

    def __init__(
        self, api: Api, n: int, *, label: str, cached: bool, components: dict[str, int], pid: int, say: Say
    ) -> None:
        self.api = api
        self.n = n
        self.label = label
        self.cached = cached
        self.components = components
        self.pid = pid
        self.say = say
        self.namespace = f"bench-burst-{n}-{'imc' if cached else 'pull'}-{uuid.uuid4().hex[:5]}"
        self.cache = f"bench-burst-{uuid.uuid4().hex[:6]}" if cached else ""

    async def run(self) -> dict[str, Any]:
        api, ns = self.api, self.namespace
        await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}, resource="namespaces")
        tracker = PodTracker(api, ns)
        await tracker.start()
        out: dict[str, Any] = {"namespace": ns, "cached": self.cached, "step_cores": step_cores(self.n)}
        try:
            if self.cached:
                out["imagecache_ready_s"] = await self._cache_ready()
            await self._warm(tracker)
            out["create"] = await self._burst(tracker)
            out["delete"] = await self._scale_in(tracker)
        finally:
            await tracker.stop()
            await self._cleanup()
        return out

    # --------------------------------------------------------------------------------------- before
    async def _cache_ready(self) -> float:
        t0 = time.monotonic()
        await self.api.request("POST", IMC, image_cache(self.cache), resource="imagecaches")

        async def ready() -> bool:
            got = await self.api.get(f"{IMC}/{self.cache}")
            return (got.get("status") or {}).get("phase") == "Ready"

        await _until(ready, 300, f"ImageCache {self.cache} Ready")
        return round(time.monotonic() - t0, 2)

    async def _warm(self, tracker: PodTracker) -> None:
        """Deployment at 1 replica, Ready, and its HPA reading a metric: the state before the step."""
        ns = self.namespace
        await self.api.request(
            "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", burst_deployment(self.cached)
        )
        await self.api.request(
            "POST", f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers", burst_hpa(self.n)
        )
        await _until(lambda: _now(len(tracker.ready_at) >= 1), 180, "the first replica Ready")

        async def metric_seen() -> bool:
            hpa = await self.api.get(f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/burst")
            return bool((hpa.get("status") or {}).get("currentMetrics"))

        await _until(metric_seen, 180, "the HPA to read the first replica's CPU")

    # ---------------------------------------------------------------------------------------- burst
    async def _burst(self, tracker: PodTracker) -> dict[str, Any]:
        api, ns, n = self.api, self.namespace, self.n
        reset_peak_rss(self.pid)
        before_proc = proc_sample(self.pid)
        before_cpu = cpu_of(self.components)
        t0 = time.monotonic()
        await api.request("POST", f"/apis/{LOAD}/namespaces/{ns}/loads", burst_load(n), resource="loads")
        decisions: list[tuple[float, int]] = []
        series: list[dict[str, float]] = []
        seen_replicas, next_sample = 1, 0.0
        deadline = t0 + 120 + n * 0.3
        first_ready = set(tracker.ready_at)
        while len(tracker.ready_at) < n:
            tracker.check()
            now = time.monotonic()
            if now > deadline:
                self.say(
                    f"  [{self.label}] burst: gave up after {now - t0:.0f}s, {len(tracker.ready_at)}/{n}"
                )
                break
            scale = await api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/burst/scale")
            replicas = int(scale.get("spec", {}).get("replicas", 1))
            if replicas != seen_replicas:
                decisions.append((round(now - t0, 2), replicas))
                seen_replicas = replicas
            if now >= next_sample:
                series.append(await self._sample(now - t0, replicas, tracker))
                if len(series) % 4 == 0:
                    self.say(
                        f"  [{self.label}] burst: replicas {replicas}, created {len(tracker.first_seen)}, "
                        f"Ready {len(tracker.ready_at)}/{n} after {now - t0:.1f}s"
                    )
                next_sample = now + 0.5
            await asyncio.sleep(0.25)
        t_ready = time.monotonic()
        cost = await self._cost()
        series.append(await self._sample(t_ready - t0, seen_replicas, tracker))
        after_proc = proc_sample(self.pid)
        after_cpu = cpu_of(self.components)
        created = sorted(t - t0 for name, t in tracker.first_seen.items() if name not in first_ready)
        ready = sorted(t - t0 for name, t in tracker.ready_at.items() if name not in first_ready)
        full = next((t for t, r in decisions if r >= n), None)
        return {
            "complete": len(tracker.ready_at) >= n,
            "pods": len(tracker.ready_at),
            "first_decision_s": decisions[0][0] if decisions else None,
            "decisions": decisions,
            "n_decided_s": full,
            "n_created_s": round(created[n - 2], 3) if len(created) >= n - 1 else None,
            "wall_s": round(t_ready - t0, 3),
            "cost_cny": cost,
            "series": series,
            "curve": curve(ready),
            "controller": {
                "cpu_s": round(after_proc.cpu_s - before_proc.cpu_s, 2),
                "peak_rss_mb": round(after_proc.hwm_mb, 1),
            },
            "cpu_s": {k: round(after_cpu.get(k, 0) - v, 2) for k, v in before_cpu.items()},
        }

    async def _sample(self, t: float, replicas: int, tracker: PodTracker) -> dict[str, float]:
        hpa = await self.api.get(
            f"/apis/autoscaling/v2/namespaces/{self.namespace}/horizontalpodautoscalers/burst"
        )
        utilisation = None
        for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
            current = (metric.get("resource") or {}).get("current") or {}
            if "averageUtilization" in current:
                utilisation = float(current["averageUtilization"])
        return {
            "t": round(t, 2),
            "replicas": replicas,
            "created": len(tracker.first_seen) - len(tracker.deleted_at),
            "ready": len(tracker.ready_at) - len(tracker.deleted_at),
            "pod_cpu": round(utilisation / 100 * REQUEST_CPU, 4) if utilisation is not None else math.nan,
        }

    async def _cost(self) -> float:
        """What the namespace's groups cost so far (CNY), by the operator's one charge formula."""
        from eci_operator.domain.bill import bill_rows

        groups = await self.api.get(f"/apis/eci.ask.dev/v1alpha1/namespaces/{self.namespace}/containergroups")
        rows = bill_rows([], groups.get("items", []), dt.datetime.now(dt.UTC))
        return round(float(sum(r.total for r in rows)), 6)

    # ------------------------------------------------------------------------------------- scale in
    async def _scale_in(self, tracker: PodTracker) -> dict[str, Any]:
        api, ns = self.api, self.namespace
        live = {name for name in tracker.first_seen if name not in tracker.deleted_at}
        t0 = time.monotonic()
        await api.request("DELETE", f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/burst")
        await api.request("DELETE", f"/apis/{LOAD}/namespaces/{ns}/loads/burst", resource="loads")
        await api.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{ns}/deployments/burst/scale",
            {"spec": {"replicas": 0}},
            content_type="application/merge-patch+json",
        )
        await _until(
            lambda: _now(live <= set(tracker.deleted_at)), 120 + len(live) * 0.2, "the burst's pods gone"
        )
        return {"complete": True, "pods": len(live), "wall_s": round(time.monotonic() - t0, 3)}

    async def _cleanup(self) -> None:
        await self.api.request(
            "DELETE", f"/api/v1/namespaces/{self.namespace}", ok=(404,), resource="namespaces"
        )
        if self.cache:
            await self.api.request("DELETE", f"{IMC}/{self.cache}", ok=(404,), resource="imagecaches")

        async def gone() -> bool:
            got = await self.api.request(
                "GET", f"/api/v1/namespaces/{self.namespace}", ok=(404,), resource="namespaces"
            )
            return not got or got.get("kind") == "Status"

        await _until(gone, 300, f"namespace {self.namespace} to go")


async def _now(value: bool) -> bool:
    return value


async def _until(pred: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.3)


async def measure_burst(
    api: Api, side: Any, n: int, *, label: str, components: dict[str, int], say: Say
) -> dict[str, Any]:
    """Start the controller, run the burst without and then with an ImageCache, stop it.

    ``create``/``delete`` are the run without a cache (the figures shared with the other scenarios);
    ``cached`` holds the run with one.
    """
    if side.name != "ours":
        raise NotImplementedError(
            "burst runs on ours only: KWOK cannot play a Load (README, 'Rehearsing a burst')"
        )
    t0 = time.monotonic()
    await side.start(label)
    result: dict[str, Any] = {"controller_start_s": round(time.monotonic() - t0, 2)}
    try:
        await side.wait_node_ready(node_name=BURST_NODE)
        for cached in (False, True):
            variant = BurstRun(
                api,
                n,
                label=f"{label} {'imc' if cached else 'pull'}",
                cached=cached,
                components=components,
                pid=side.pid,
                say=say,
            )
            figures = await variant.run()
            if cached:
                result["cached"] = figures
            else:
                result.update(figures)
            say(
                f"  [{label}] {'with' if cached else 'without'} ImageCache: first decision "
                f"{figures['create']['first_decision_s']}s, {n} created {figures['create']['n_created_s']}s, "
                f"{figures['create']['pods']}/{n} Ready {figures['create']['wall_s']:.1f}s, "
                f"cost {figures['create']['cost_cny']} CNY"
            )
    finally:
        await side.stop()
    return result
