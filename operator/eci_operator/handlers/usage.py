"""Resource usage of the pods on the virtual nodes, served to the kubelet endpoints and Loads' status.

One ``UsageService`` per operator: it watches ``Load`` objects (a cache, like every kind), builds the
snapshot ``domain.usage`` needs from the caches and the runtime (running containers, Ready, the instance's
vCPU and memory), and advances one ``Meter``. A scrape reads it (no API call); readings closer together
than ``REUSE_SECONDS`` share one. Every ``status_seconds`` it writes each Load's status if it changed
(one patch per Load, never per pod), and posts a Warning Event once per bad fixed-usage annotation value.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from eci_operator.domain import conditions
from eci_operator.domain.bodies import annotations_of, key_of, labels_of, meta_of, uid_of
from eci_operator.domain.errors import from_validation_error
from eci_operator.domain.kubetime import parse_time, stamp
from eci_operator.domain.usage import (
    CPU_USAGE_ANNOTATION,
    MEMORY_USAGE_ANNOTATION,
    Fixed,
    LoadInput,
    LoadReport,
    Meter,
    PodInput,
    Reading,
    fixed_usage,
)
from eci_operator.handlers.caches import BY_FIXED_USAGE, Caches
from eci_operator.handlers.store import Body, Key, Store
from eci_operator.handlers.tasks import cancel_all
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError
from eci_operator.kube.events import EventPoster, EventSpec
from eci_operator.kube.watch import Informer
from eci_operator.models import ContainerGroupPhase, ContainerGroupStatus, ContainerState
from eci_operator.models.load import LoadSpec
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import Runtime

log = structlog.get_logger("eci_operator.usage")
REUSE_SECONDS = 0.5
GIB = 2**30


def cores(value: float) -> str:
    return f"{round(value * 1000)}m"


def mebibytes(value: float) -> str:
    return f"{round(value / 2**20)}Mi"


def load_status(report: LoadReport, generation: int | None) -> dict[str, Any]:
    """A Load's status from its report (rounded to millicores and MiB, so small noise writes nothing)."""
    status: dict[str, Any] = {
        "pods": report.pods,
        "readyPods": report.ready_pods,
        "demandCPU": cores(report.demand.cpu),
        "servedCPU": cores(report.served_cpu),
        "unservedCPU": cores(report.unserved_cpu),
        "demandMemory": mebibytes(report.demand.memory),
        "servedMemory": mebibytes(report.served_memory),
        "unservedMemory": mebibytes(report.unserved_memory),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


class UsageService:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        runtime: Runtime,
        clock: Clock,
        events: EventPoster,
        *,
        status_seconds: float = 10.0,
    ) -> None:
        self.client, self.caches, self.runtime, self.clock, self.events = (
            client,
            caches,
            runtime,
            clock,
            events,
        )
        self.status_seconds = status_seconds
        self.loads = Store()
        self.meter = Meter()
        self._last: Reading | None = None
        self._fixed: dict[tuple[str, str | None, str | None, float, float], Fixed] = {}
        self._specs: dict[tuple[str, int], LoadInput | None] = {}
        # per pod: what its input was made from (pod version, runtime status object) and the input; a
        # scrape every 10 s decodes only the pods that changed (decoding all of them was a quarter of the
        # operator's CPU at 10,000 pods)
        self._inputs: dict[Key, tuple[tuple[int, str], ContainerGroupStatus, PodInput]] = {}
        self._written: dict[Key, dict[str, Any]] = {}
        self._warned: set[tuple[str, str, str]] = set()
        self.informer = Informer(
            client, "Load", paths.loads(), on_event=self.on_load, on_list=self._listed, max_backoff=30.0
        )
        self.tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------------------------------- Loads
    def on_load(self, kind: str, body: Body) -> None:
        if kind == "DELETED":
            self.loads.drop(key_of(body), uid_of(body))
            self._written.pop(key_of(body), None)
        else:
            self.loads.put(key_of(body), body)

    def _listed(self, items: list[Body], list_rv: int) -> None:
        keys = {key_of(item) for item in items}
        for key in list(self.loads):
            if key not in keys:
                self.loads.drop(key)
        for item in items:
            self.on_load("ADDED", item)

    def _load_input(self, body: Body) -> LoadInput | None:
        meta = meta_of(body)
        cache_key = (uid_of(body), int(meta.get("generation") or 0))
        if cache_key not in self._specs:
            try:
                spec = LoadSpec.model_validate(body.get("spec") or {})
                began = parse_time(str(meta.get("creationTimestamp") or stamp(self.clock.now())))
                self._specs[cache_key] = LoadInput.of(key_of(body), spec, began)
            except ValidationError as exc:  # the CRD refuses these; a Load from elsewhere is skipped
                errors = "; ".join(str(e) for e in from_validation_error(exc, root="spec"))
                log.warning("load.invalid", namespace=key_of(body)[0], load=key_of(body)[1], error=errors)
                self._specs[cache_key] = None
        return self._specs[cache_key]

    # --------------------------------------------------------------------------------------- reading
    def _current_input(
        self, key: Key, fresh: dict[Key, tuple[tuple[int, str], ContainerGroupStatus, PodInput]]
    ) -> PodInput | None:
        """The pod's input, made again only if its body or its runtime status changed (kept in ``fresh``)."""
        status = self.runtime.get(key)
        version = self.caches.pods.version(key)
        if (
            status is None
            or version is None
            or status.phase != ContainerGroupPhase.RUNNING
            or not status.vcpu
        ):
            return None
        made = self._inputs.get(key)
        if made is not None and made[0] == version and made[1] is status:  # statuses are replaced, not edited
            fresh[key] = made
            return made[2]
        pod = self.caches.pods.get(key)
        if pod is None:
            return None
        pod_input = self._pod_input(key, pod, status)
        if pod_input is not None and status.started_at is not None:  # else "started" is now, every time
            fresh[key] = (version, status, pod_input)
        return pod_input

    def _pod_input(self, key: Key, pod: Body, status: ContainerGroupStatus) -> PodInput | None:
        started_default = status.started_at or self.clock.now()
        running = tuple(
            (c.name, c.started_at or started_default)
            for c in status.containers
            if not c.init and c.state == ContainerState.RUNNING
        )
        if not running:
            return None
        cpu_cap, memory_cap = status.vcpu or 0.0, (status.memory_gib or 0.0) * GIB  # (checked: vcpu > 0)
        notes = annotations_of(pod)
        fixed_key = (
            uid_of(pod),
            notes.get(CPU_USAGE_ANNOTATION),
            notes.get(MEMORY_USAGE_ANNOTATION),
            cpu_cap,
            memory_cap,
        )
        fixed = self._fixed.get(fixed_key)
        if fixed is None:
            fixed = self._fixed[fixed_key] = fixed_usage(notes, cpu_cap, memory_cap)
            self._warn(pod, fixed)
        return PodInput(
            key=key,
            uid=uid_of(pod),
            node=str((pod.get("spec") or {}).get("nodeName") or ""),
            labels=labels_of(pod),
            ready=conditions.is_true(pod, "Ready"),
            containers=running,
            cpu_cap=cpu_cap,
            memory_cap=memory_cap,
            fixed=fixed,
        )

    def _warn(self, pod: Body, fixed: Fixed) -> None:
        for annotation, reason, message in fixed.problems:
            once = (uid_of(pod), annotation, str(annotations_of(pod).get(annotation)))
            if once in self._warned:
                continue
            self._warned.add(once)
            ns, name = key_of(pod)
            self.events.post(EventSpec(ns, name, uid_of(pod), "Pod", reason, message, warning=True))
            log.warning(
                "usage.annotation_rejected", namespace=ns, pod=name, annotation=annotation, reason=reason
            )

    def reading(self) -> Reading:
        """Everything's usage now (one reading serves the scrapes of every node within REUSE_SECONDS)."""
        now = self.clock.now()
        if self._last is not None and abs((now - self._last.at).total_seconds()) < REUSE_SECONDS:
            return self._last
        fresh: dict[Key, tuple[tuple[int, str], ContainerGroupStatus, PodInput]] = {}
        pods = [p for key in self.caches.pods if (p := self._current_input(key, fresh))]
        self._inputs = fresh
        loads = [li for body in self.loads.items.values() if (li := self._load_input(body)) is not None]
        if len(self._fixed) > 4 * len(self.caches.pods) + 1000:
            self._fixed.clear()  # forget pods long gone (the values are re-parsed, not re-warned)
        self._last = self.meter.advance(now, pods, loads)
        return self._last

    @property
    def last(self) -> Reading | None:
        """The latest reading, without making one (safe to read from another thread)."""
        return self._last

    # ---------------------------------------------------------------------------------------- status
    async def write_statuses(self) -> int:
        """Patch each Load whose status changed; how many were written."""
        reading = self.reading()
        written = 0
        for key, body in list(self.loads.items.items()):
            report = reading.loads.get(key)
            if report is None:
                continue
            status = load_status(report, meta_of(body).get("generation"))
            if self._written.get(key) == status:
                continue
            try:
                answer = await self.client.merge_patch(
                    paths.load_status(*key), {"status": {**status, "updatedAt": stamp(reading.at)}}
                )
            except ApiError as exc:
                log.warning("load.status_failed", namespace=key[0], load=key[1], status=exc.status)
                continue
            self.loads.put(key, answer)
            self._written[key] = status
            written += 1
        return written

    def _worth_a_round(self) -> bool:
        """Loads to report, or fixed-usage annotations to check (else scrapes alone compute usage)."""
        if len(self.loads):
            return True
        return bool(self.caches.pods.by(BY_FIXED_USAGE, "yes"))

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.status_seconds)
            if not self._worth_a_round():
                continue
            try:
                await self.write_statuses()
            except Exception as exc:  # keep serving: the next round tries again
                log.error("usage.status_round_failed", error=repr(exc))

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self.informer.run(), name="eci-watch-Load"))
        self.tasks.append(asyncio.create_task(self._status_loop(), name="eci-load-status"))

    async def stop(self) -> None:
        await cancel_all(self.tasks)
