"""One measurement: N pods to Ready and back to none, on one side, in one scenario; returns its figures.

Scenarios:
* ``bound``: the harness POSTs N pods that already carry ``spec.nodeName`` (as KWOK's own benchmark does),
  ``concurrency`` requests in flight; deletion is N DELETEs (default grace period: the controller finishes
  them, as a kubelet would).
* ``deployment``: one Deployment created at 0 replicas, then scaled to N (ReplicaSet controller and
  scheduler in the path), then scaled back to 0.

Times are ``time.monotonic()`` in the harness: a pod's latency is "Ready first seen in the watch" minus
"its create request answered" (bound) or "first seen in the watch" (deployment); the wall time runs from the
first request (the create of pod 1, or the scale-up) to the last pod seen Ready. Deletion likewise, to the
last DELETED event. Costs are deltas across the phase: the controller's CPU seconds and peak RSS (/proc,
peak reset at the start of the phase), the requests the API server served by verb and resource (every
client), the harness's own requests, and (ours only) the operator's own request counters.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from burst import measure_burst
from kube import Api, PodTracker, bounded
from measure import apiserver_requests, cpu_of, curve, delta, percentile, proc_sample, reset_peak_rss
from sides import Side

from eci_operator.cli.check import snapshot, violations
from eci_operator.domain.invariants import DEFAULT_GRACE

WRITE_VERBS_APISERVER = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}
WRITE_VERBS_OPERATOR = {"create", "update", "patch", "delete"}
Say = Callable[[str], None]


def pod_body(name: str, placement: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/bench/app:1",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 30,
            **placement,
        },
    }


def deployment_body(name: str, placement: dict[str, Any]) -> dict[str, Any]:
    template = pod_body("", placement)
    template["metadata"] = {"labels": {"app": name}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        },
    }


class Measurement:
    def __init__(
        self,
        api: Api,
        side: Side,
        scenario: str,
        n: int,
        *,
        label: str,
        components: dict[str, int],
        concurrency: int = 64,
        say: Say = print,
    ) -> None:
        self.api = api
        self.side = side
        self.scenario = scenario
        self.n = n
        self.label = label
        self.components = components  # control-plane pids, for their CPU per phase
        self.concurrency = concurrency
        self.say = say
        self.namespace = f"bench-{side.name}-{scenario[:3]}-{n}-{uuid.uuid4().hex[:5]}"
        self.created_at: dict[str, float] = {}
        self.delete_sent_at: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------ the run
    async def run(self) -> dict[str, Any]:
        api, ns = self.api, self.namespace
        if self.scenario == "burst":
            return await measure_burst(
                api, self.side, self.n, label=self.label, components=self.components, say=self.say
            )
        await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}, resource="namespaces")
        await self._wait(lambda: self._has_default_sa(), 60, "default ServiceAccount")
        tracker = PodTracker(api, ns)
        result: dict[str, Any] = {"namespace": ns}
        t_start = time.monotonic()
        await self.side.start(self.label)
        result["controller_start_s"] = round(time.monotonic() - t_start, 2)
        try:
            await tracker.start()
            if self.scenario == "deployment":
                body = deployment_body("bench", self.side.placement("deployment"))
                await api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body)
            result["create"] = await self._phase("create", tracker)
            result["delete"] = await self._phase("delete", tracker)
        finally:
            await tracker.stop()
            await self.side.stop()
            await self._cleanup()
        return result

    async def _has_default_sa(self) -> bool:
        sas = await self.api.get(f"/api/v1/namespaces/{self.namespace}/serviceaccounts")
        return any(sa["metadata"]["name"] == "default" for sa in sas.get("items", []))

    async def _cleanup(self) -> None:
        """Remove the namespace (Events, ContainerGroups left by a failed run) and wait; not timed."""
        await self.api.request(
            "DELETE", f"/api/v1/namespaces/{self.namespace}", ok=(404,), resource="namespaces"
        )

        async def gone() -> bool:
            answer = await self.api.request(
                "GET", f"/api/v1/namespaces/{self.namespace}", ok=(404,), resource="namespaces"
            )
            return not answer or answer.get("code") == 404 or answer.get("kind") == "Status"

        await self._wait(gone, 300, f"namespace {self.namespace} to go")

    async def _wait(self, pred: Callable[[], Any], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not await pred():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            await asyncio.sleep(0.3)

    # ----------------------------------------------------------------------------------------- a phase
    async def _phase(self, phase: str, tracker: PodTracker) -> dict[str, Any]:
        side, api, n = self.side, self.api, self.n
        reset_peak_rss(side.pid)
        before_proc = proc_sample(side.pid)
        before_cpu = cpu_of({**self.components, "harness": _self_pid()})
        before_api = apiserver_requests(await api.metrics_text())
        before_own = await asyncio.to_thread(side.own_requests)
        before_harness = dict(api.counts)
        t0 = time.monotonic()
        pprof = asyncio.create_task(self._pprof(phase)) if os.environ.get("BENCH_PPROF") else None
        send_s = await self._drive(phase, tracker)
        done = tracker.ready_at if phase == "create" else tracker.deleted_at
        complete = await self._follow(phase, tracker, done, t0)
        t_end = max(done.values()) if done else time.monotonic()
        if pprof is not None:
            await pprof
        settle_s = await side.settle()
        after_proc = proc_sample(side.pid)
        after_cpu = cpu_of({**self.components, "harness": _self_pid()})
        after_api = apiserver_requests(await api.metrics_text())
        after_own = await asyncio.to_thread(side.own_requests)
        harness = {
            f"{v} {r}": c - before_harness.get((v, r), 0)
            for (v, r), c in api.counts.items()
            if c - before_harness.get((v, r), 0)
        }
        if phase == "create":
            starts = self.created_at if self.scenario == "bound" else tracker.first_seen
        else:
            starts = self.delete_sent_at if self.scenario == "bound" else tracker.deleting_at
        latencies = [done[k] - starts[k] for k in done if k in starts]
        apiserver = delta(after_api, before_api)
        figures: dict[str, Any] = {
            "complete": complete,
            "pods": len(done),
            "wall_s": round(t_end - t0, 3),
            "send_s": round(send_s, 3),
            "settle_s": round(settle_s, 3),
            "latency_s": {
                "p50": round(percentile(latencies, 50), 4),
                "p90": round(percentile(latencies, 90), 4),
                "p99": round(percentile(latencies, 99), 4),
                "max": round(max(latencies, default=float("nan")), 4),
            },
            "curve": curve([t - t0 for t in done.values()]),
            "controller": {
                "cpu_s": round(after_proc.cpu_s - before_proc.cpu_s, 2),
                "peak_rss_mb": round(after_proc.hwm_mb, 1),
                "rss_end_mb": round(after_proc.rss_mb, 1),
            },
            "cpu_s": {k: round(after_cpu.get(k, 0) - v, 2) for k, v in before_cpu.items()},
            "apiserver_requests": apiserver,
            "harness_requests": harness,
            "watch_events": tracker.events,
        }
        figures["apiserver_writes_per_pod"] = _per_pod(_writes(apiserver, WRITE_VERBS_APISERVER, harness), n)
        figures["apiserver_events_per_pod"] = round(
            sum(c for k, c in apiserver.items() if k.split()[0] == "POST" and k.split()[1] == "events") / n, 3
        )
        if before_own is not None and after_own is not None:
            own = delta(after_own, before_own)
            figures["own_requests"] = own
            figures["own_writes_per_pod"] = _per_pod(_writes(own, WRITE_VERBS_OPERATOR, {}), n)
            figures["own_reads_per_pod"] = round(
                sum(c for k, c in own.items() if k.split()[0] in ("get", "list")) / n, 3
            )
            figures["own_events_per_pod"] = round(
                sum(c for k, c in own.items() if k.split()[1] == "events") / n, 3
            )
        if side.name == "ours":
            figures["invariants"] = await self._invariants(phase)
        return figures

    async def _invariants(self, phase: str) -> dict[str, Any]:
        """``eci-operator check`` on the cluster once the phase is over (not timed): the violations it finds
        (none expected: every pod with its group and Ready, or, after the deletion, nothing left)."""
        snap = await snapshot(str(self.side.kubeconfig))
        found = violations(snap, DEFAULT_GRACE.total_seconds())
        pods = [p for p in snap["pods"] if p["metadata"]["namespace"] == self.namespace]
        terminating = sum(1 for p in pods if p["metadata"].get("deletionTimestamp"))
        self.say(
            f"  [{self.label}] eci-operator check after {phase}: {len(found)} violation(s), "
            f"{len(pods)} pods left in the namespace ({terminating} Terminating)"
        )
        return {
            "violations": len(found),
            "first": [str(v) for v in found[:10]],
            "pods": len(pods),
            "terminating": terminating,
        }

    async def _pprof(self, phase: str) -> None:
        """``BENCH_PPROF=N``: a CPU profile of kube-apiserver over the phase's first N seconds, saved next
        to the controller's log (the control plane must serve /debug/pprof: ``ECI_CLUSTER_PROFILING=1``)."""
        seconds = os.environ.get("BENCH_PPROF", "10")
        path = f"/debug/pprof/profile?seconds={seconds}"
        async with self.api.session.get(self.api.host + path) as resp:
            body = await resp.read()
        if resp.status != 200:
            self.say(f"  [{self.label}] pprof: HTTP {resp.status} (ECI_CLUSTER_PROFILING=1 at cluster up?)")
            return
        out = self.side.log.with_name(f"{self.side.log.stem}-apiserver-{phase}.pprof")
        out.write_bytes(body)

    async def _drive(self, phase: str, tracker: PodTracker) -> float:
        """Send the phase's requests; return how long sending took."""
        api, ns, n = self.api, self.namespace, self.n
        t0 = time.monotonic()
        width = len(str(n - 1))
        if self.scenario == "deployment":
            replicas = n if phase == "create" else 0
            await api.request(
                "PATCH",
                f"/apis/apps/v1/namespaces/{ns}/deployments/bench/scale",
                {"spec": {"replicas": replicas}},
                content_type="application/merge-patch+json",
            )
            return time.monotonic() - t0
        if phase == "create":
            placement = self.side.placement("bound")
            path = f"/api/v1/namespaces/{ns}/pods"

            def create(i: int) -> Callable[[], Any]:
                name = f"bench-{i:0{width}d}"
                data = json.dumps(pod_body(name, placement))

                async def job() -> None:
                    await api.request("POST", path, data, resource="pods")
                    self.created_at[name] = time.monotonic()

                return job

            await bounded((create(i) for i in range(n)), self.concurrency)
        else:

            def remove(name: str) -> Callable[[], Any]:
                async def job() -> None:
                    await api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", ok=(404,))
                    self.delete_sent_at[name] = time.monotonic()

                return job

            await bounded((remove(name) for name in sorted(tracker.ready_at)), self.concurrency)
        return time.monotonic() - t0

    async def _follow(self, phase: str, tracker: PodTracker, done: dict[str, float], t0: float) -> bool:
        """Print progress until all N are done (or the deadline); True when complete."""
        deadline = t0 + 60 + self.n * 0.06
        last_print = 0.0
        while len(done) < self.n:
            tracker.check()
            self.side.alive()
            now = time.monotonic()
            if now - last_print >= 2:
                word = "Ready" if phase == "create" else "gone"
                self.say(f"  [{self.label}] {phase}: {len(done)}/{self.n} {word} after {now - t0:.1f}s")
                last_print = now
            if now > deadline:
                self.say(f"  [{self.label}] {phase}: gave up after {now - t0:.0f}s with {len(done)}/{self.n}")
                return False
            await asyncio.sleep(0.1)
        return True


def _self_pid() -> int:
    import os

    return os.getpid()


def _writes(requests: dict[str, int], verbs: set[str], harness: dict[str, int]) -> int:
    """Writes (not Events) in ``requests`` minus those the harness itself sent."""
    total = 0
    for key, count in requests.items():
        verb, resource = key.split(" ", 1)
        if verb in verbs and resource != "events":
            total += count - harness.get(key, 0)
    return total


def _per_pod(count: int, n: int) -> float:
    return round(count / n, 3)
