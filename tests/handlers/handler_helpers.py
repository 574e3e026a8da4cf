"""The handler tier's harness: the operator's controllers in-process against ``kube.memory.ApiServer``.

No control plane, no kubeconfig, no built binaries: an in-memory API server behind the same Transport as
a real one, the simulated runtime on a ManualClock (time moves only when a test says so), and the operator
assembled from its parts exactly as ``eci-operator run`` assembles it (webhooks, kubelet endpoints and
metrics left out). Tests assert the verbs, paths and bodies the operator sends. ``settle`` is the one way
to wait: until the work queue is empty and every watch event is delivered, with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eci_operator.handlers.operator import Operator
from eci_operator.handlers.settings import Settings
from eci_operator.kube.client import KubeClient
from eci_operator.kube.events import EventPoster
from eci_operator.kube.memory import WITH_STATUS, ApiServer
from eci_operator.kube.memory_transport import MemoryTransport
from eci_operator.runtime.clock import ManualClock
from eci_operator.runtime.simulated import SimulatedRuntime

GROUP_PATH = "/apis/eci.ask.dev/v1alpha1"
ZONE = "cn-hangzhou-i"
NODE = f"virtual-kubelet-{ZONE}"


async def settle_while(busy: Callable[[], bool], timeout: float = 5.0, *, what: str = "it") -> None:
    """Yield to the event loop until ``busy()`` is false for a few turns in a row, with a deadline.

    The one way the handler tier waits: it never sleeps, it only lets the in-process tasks run.
    """
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:  # a few idle turns in a row: nothing left that could still enqueue work
        await asyncio.sleep(0)
        quiet = 0 if busy() else quiet + 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not settle in {timeout}s")


@dataclass
class Harness:
    server: ApiServer
    clock: ManualClock
    runtime: SimulatedRuntime
    operator: Operator

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until nothing is queued or in flight and every watch event is delivered."""

        def busy() -> bool:
            return bool(
                len(self.operator.queue)
                or len(self.operator.imagecaches.queue)
                or self.operator.events.pending
                or self.server.undelivered()
            )

        await settle_while(busy, timeout, what=f"the operator ({len(self.operator.queue)} keys)")

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.settle()

    async def restart(self) -> None:
        """The operator process dies and a new one starts on the same API server and clock."""
        old = self.operator
        await old.stop(drain_seconds=1.0)
        self.runtime = type(self.runtime)(self.clock)  # a new runtime knows nothing
        self.operator = Operator(old.client, self.runtime, old.settings, clock=self.clock, events=old.events)
        await self.operator.start()
        await self.settle()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        code, answer = self.server.handle(method, path, {}, body)
        self.server.requests.pop()  # the test's own request: not one the operator made
        assert code < 300, answer
        return answer

    def namespace(self, name: str) -> None:
        self.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})

    def profile(self, name: str = "default", **spec: Any) -> dict[str, Any]:
        """An ECIProfile; the image-pull model and ECI's automatic ImageCaches are off unless the test's
        ``simulation`` turns them on."""
        pulls = spec.setdefault("simulation", {}).setdefault("imagePulls", {})
        pulls.setdefault("enabled", False)
        pulls.setdefault("autoCreateImageCache", False)
        body = {
            "apiVersion": "eci.ask.dev/v1alpha1",
            "kind": "ECIProfile",
            "metadata": {"name": name},
            "spec": {
                "regionId": "cn-hangzhou",
                "vpcId": "vpc-1",
                "securityGroupId": "sg-1",
                "vSwitches": [{"id": "vsw-1", "zoneId": ZONE, "cidr": "10.0.0.0/24"}],
                **spec,
            },
        }
        return self.request("POST", f"{GROUP_PATH}/eciprofiles", body)

    def pod(
        self, name: str, namespace: str = "ns", *, node: str = NODE, image: str = "nginx", **meta: Any
    ) -> dict[str, Any]:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, **meta},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
        }
        return self.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)

    def events(self, name: str) -> list[str]:
        """Reasons of the Events posted about ``name`` (in no particular order: several senders)."""
        return [e["reason"] for e in self.server.all("events") if e["involvedObject"]["name"] == name]

    def writes_since(self, mark: int) -> list[tuple[str, str]]:
        """(method, path) of the writes after request number ``mark``, Events left out."""
        return [(m, p) for m, p, _ in self.server.requests[mark:] if m != "GET" and "/events" not in p]


async def make_harness(*, status_subresources: frozenset[str] = WITH_STATUS) -> Harness:
    """An operator on a fresh in-memory API server, started and synced (``status_subresources``: the
    resources whose status is a subresource, e.g. with ``containergroups`` for a CRD from before #18)."""
    clock = ManualClock()
    server = ApiServer(now=clock.now, status_subresources=status_subresources)
    client = KubeClient(MemoryTransport(server), max_retries=0)
    runtime = SimulatedRuntime(clock)
    settings = Settings(workers=4, webhooks=False, metrics_port=0, orphan_grace_seconds=30.0)
    events = EventPoster(client, quiet=0.0, max_defer=0.0)
    op = Operator(client, runtime, settings, clock=clock, events=events)
    h = Harness(server, clock, runtime, op)
    h.namespace("default")
    h.namespace("ns")
    h.request("POST", "/api/v1/namespaces", {"metadata": {"name": "kube-node-lease"}})
    await op.start()
    return h
