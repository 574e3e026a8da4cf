"""Kubernetes Events on pods, posted off the critical path.

Events are what ``kubectl describe pod`` shows; ECI posts a few per pod (created, failed, spot reclaim).
They are queued and sent by a small pool of senders, so a pod's status write never waits for an Event;
identical events for the same object within a short window are folded into one with a count. Senders
also yield to the operator's own work: while other requests keep starting (a burst of pods) an Event
waits, up to ``max_defer`` seconds, so that on a busy API server the pods' writes go first (bench/: with
500 pods, Events out of the burst cut the wall time to Ready by ~8% and the API server's CPU by ~13%).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog

from eci_operator.kube import paths
from eci_operator.kube.client import ApiError, KubeClient

log = structlog.get_logger("eci_operator.events")
COMPONENT = "EciService"


@dataclass(frozen=True)
class EventSpec:
    namespace: str
    name: str
    uid: str
    kind: str
    reason: str
    message: str
    warning: bool = False
    api_version: str = "v1"
    cluster_scoped: bool = False  # the object has no namespace: the Event goes to "default", as a Node's


class EventPoster:
    def __init__(
        self,
        client: KubeClient,
        *,
        senders: int = 4,
        queue_size: int = 50_000,
        quiet: float = 0.05,
        max_defer: float = 30.0,
    ) -> None:
        self._client = client
        self._quiet = quiet
        self._max_defer = max_defer
        self._queue: asyncio.Queue[tuple[EventSpec, int]] = asyncio.Queue(maxsize=queue_size)
        self._pending: dict[EventSpec, int] = {}
        self._senders = senders
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self.posted = 0

    @property
    def pending(self) -> int:
        """Events queued and not yet sent."""
        return len(self._pending)

    def post(self, event: EventSpec) -> None:
        """Queue an event; folds duplicates not yet sent; drops (and counts) when the queue is full."""
        if event in self._pending:
            self._pending[event] += 1
            return
        try:
            self._queue.put_nowait((event, 0))
            self._pending[event] = 1
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        for i in range(self._senders):
            self._tasks.append(asyncio.create_task(self._sender(), name=f"eci-events-{i}"))

    async def stop(self, *, flush_timeout: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                while self._pending:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sender(self) -> None:
        while True:
            event, _ = await self._queue.get()
            await self._yield_to_work()
            count = self._pending.pop(event, 1)
            try:
                await self._client.create(paths.events(event.namespace or "default"), _body(event, count))
                self.posted += 1
            except ApiError as exc:
                # The namespace may be going away; an event is never worth a retry loop.
                log.debug("event.failed", reason=event.reason, object=event.name, error=str(exc))

    async def _yield_to_work(self) -> None:
        """Wait until no other request started for ``quiet`` seconds (at most ``max_defer``)."""
        deadline = time.monotonic() + self._max_defer
        while True:
            now = time.monotonic()
            idle_for = now - self._client.last_work
            if idle_for >= self._quiet or now >= deadline:
                return
            await asyncio.sleep(max(self._quiet - idle_for, 0.01))


def _body(event: EventSpec, count: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespace = "default" if event.cluster_scoped else event.namespace
    involved = {"apiVersion": event.api_version, "kind": event.kind, "name": event.name, "uid": event.uid}
    if not event.cluster_scoped:
        involved["namespace"] = event.namespace
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{event.name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": involved,
        "reason": event.reason,
        "message": event.message[:1024],
        "type": "Warning" if event.warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": "eci-operator",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": count,
    }
