"""Leader election on a Lease, as client-go's ``leaderelection.LeaderElector`` runs it, plus a write fence.

Every replica runs one elector. A standby tries to acquire every retry period (jittered); the leader
renews every retry period and, when no renewal has succeeded for the renew deadline, stops leading. The
record rules are ``domain.leader``; every write of the record carries the resourceVersion it was read at
(a merge patch with a precondition: optimistic concurrency, so of two candidates exactly one wins).

``may_write`` is the fence the operator's API client consults before every write: only a leader whose
last successful renewal is younger than the renew deadline may write, by its own clock, checked at the
moment of the write. A leader that was paused, partitioned or starved therefore stops writing at once,
before its lease can have expired for anyone else (renew deadline < lease duration), whatever its tasks
were doing (no split brain); the election Lease itself is the one object it may always write.

One rule beyond client-go (whose leader gives up once the deadline has passed): a leader past its
deadline is *suspended*, not stopped — it writes nothing (the fence is up) and keeps trying its renewal at
the resourceVersion it last wrote. Every acquisition writes the Lease, so if that write succeeds nobody else
has led meanwhile, and it resumes (a single replica that was paused, or whose API server was down for a
while, recovers without a restart); once the Lease is seen to have moved on (the write conflicts, or a read
names another holder) it stops leading, and the process exits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import socket
import uuid
from dataclasses import dataclass

import structlog

from eci_operator.domain import leader as rules
from eci_operator.handlers import instruments
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError, NotFound
from eci_operator.runtime.clock import Clock

log = structlog.get_logger("eci_operator.leader")
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def default_namespace() -> str:
    """The operator's own namespace in a cluster (its ServiceAccount's), else kube-system."""
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE) as f:
            return f.read().strip() or rules.NAMESPACE_OUTSIDE_CLUSTER
    except OSError:
        return rules.NAMESPACE_OUTSIDE_CLUSTER


def default_identity() -> str:
    """hostname_uuid, as client-go's callers build it: unique even for two processes on one host."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    name: str = rules.LEASE_NAME
    identity: str = ""
    lease_duration: float = rules.LEASE_DURATION_SECONDS
    renew_deadline: float = rules.RENEW_DEADLINE_SECONDS
    retry_period: float = rules.RETRY_PERIOD_SECONDS


class LeaderElector:
    def __init__(self, client: KubeClient, clock: Clock, config: ElectionConfig) -> None:
        """``config.identity`` must be unique among the replicas (default: hostname_uuid)."""
        rules.validate_durations(config.lease_duration, config.renew_deadline, config.retry_period)
        self.client, self.clock = client, clock
        self.config = config
        self.identity = config.identity or default_identity()
        self.path = paths.lease(config.namespace, config.name)
        self.collection = paths.leases(config.namespace)
        self.observed: rules.Record | None = None
        self.observed_rv: str | None = None
        self.observed_at = clock.now()
        self.renewed_at: dt.datetime | None = None  # our last successful acquire/renew
        self.was_leading = False
        self.suspended = False  # past the renew deadline, the Lease not seen to move on: writes nothing
        self._conflicted = False  # our last write of the Lease was refused for its resourceVersion
        self.stopped = asyncio.Event()  # set when leadership was lost (or released)
        self.last_takeover_seconds: float | None = None

    # ------------------------------------------------------------------------------------------- fence
    @property
    def leading(self) -> bool:
        """We hold the lease and renewed it within the renew deadline, by our own clock, right now (and the
        last record we saw names us: seeing another holder ends it at once)."""
        if self.renewed_at is None or self.stopped.is_set():
            return False
        if self.observed is None or self.observed.holder != self.identity:
            return False
        return self.clock.now() < self.renewed_at + dt.timedelta(seconds=self.config.renew_deadline)

    def may_write(self, method: str, path: str) -> bool:
        """The fence: the leader writes; anyone writes the election Lease (created in its collection)."""
        bare = path.split("?")[0]
        return self.leading or bare == self.path or (method == "POST" and bare == self.collection)

    # ------------------------------------------------------------------------------------------- steps
    def _observe(self, record: rules.Record, rv: str | None) -> None:
        if record != self.observed:
            self.observed, self.observed_at = record, self.clock.now()
        self.observed_rv = rv

    async def _write(self, record: rules.Record) -> bool:
        body = {"metadata": {"resourceVersion": self.observed_rv}, "spec": record.spec()}
        try:
            lease = await self.client.merge_patch(self.path, body)
        except ApiError as exc:
            self._conflicted = exc.status in (404, 409, 422)  # the Lease was written or deleted since
            log.info("leader.write_failed", lease=self.config.name, error=str(exc))
            return False
        self._conflicted = False
        self._observe(record, (lease.get("metadata") or {}).get("resourceVersion"))
        return True

    async def try_acquire_or_renew(self) -> bool:
        now = self.clock.now()
        observed = self.observed
        if self.was_leading and observed is not None and observed.holder == self.identity:
            # The fast path (no read), at the resourceVersion we last wrote: if it succeeds, nobody has
            # written the Lease since, so nobody else can have led, even if we were paused past the deadline.
            if await self._write(rules.claim(observed, self.identity, now, self.config.lease_duration)):
                return True
            if not self.leading:
                return False  # past the deadline and the Lease moved on: we stop (no re-acquiring)
        try:
            lease = await self.client.get(self.path)
        except NotFound:
            return await self._create(now)
        except ApiError as exc:
            log.info("leader.read_failed", lease=self.config.name, error=str(exc))
            return False
        record = rules.Record.of(lease)
        self._observe(record, (lease.get("metadata") or {}).get("resourceVersion"))
        if rules.held_by_other(record, self.observed_at, self.identity, now):
            return False
        ok = await self._write(rules.claim(record, self.identity, now, self.config.lease_duration))
        if ok and record.holder != self.identity:
            self.last_takeover_seconds = rules.takeover_seconds(record, now)
        return ok

    async def _create(self, now: dt.datetime) -> bool:
        record = rules.claim(None, self.identity, now, self.config.lease_duration)
        body = {"metadata": {"name": self.config.name}, "spec": record.spec()}
        try:
            lease = await self.client.create(self.collection, body)
        except ApiError as exc:
            log.info("leader.create_failed", lease=self.config.name, error=str(exc))
            return False
        self._observe(record, (lease.get("metadata") or {}).get("resourceVersion"))
        return True

    async def step(self) -> str | None:
        """One try; "started" when we became leader, "stopped" when we lost it, else None."""
        if self.stopped.is_set():
            return None
        ok = await self.try_acquire_or_renew()
        if ok:
            self.renewed_at = self.clock.now()
            if self.suspended:
                self.suspended = False
                instruments.LEADER.set(1)
                log.info("leader.resumed", lease=self.config.name, identity=self.identity)
            if not self.was_leading:
                self.was_leading = True
                instruments.LEADER.set(1)
                instruments.LEADER_TRANSITIONS.inc()
                if self.last_takeover_seconds is not None:
                    instruments.LEADER_TAKEOVER.set(self.last_takeover_seconds)
                log.info(
                    "leader.started",
                    lease=self.config.name,
                    identity=self.identity,
                    takeover_seconds=self.last_takeover_seconds,
                )
                return "started"
            return None
        if self.was_leading and not self.leading:
            holder = self.observed.holder if self.observed is not None else None
            if self._conflicted or holder != self.identity:
                self._stop(f"renew deadline passed and the Lease moved on (holder {holder!r})")
                return "stopped"
            if not self.suspended:  # the Lease could not be written (API server unreachable, errors)
                self.suspended = True
                instruments.LEADER.set(0)
                log.warning("leader.suspended", lease=self.config.name, identity=self.identity)
        return None

    def _stop(self, reason: str) -> None:
        self.stopped.set()
        instruments.LEADER.set(0)
        log.warning("leader.stopped", lease=self.config.name, identity=self.identity, reason=reason)

    async def run(self, on_started: asyncio.Event) -> None:
        """Acquire, then renew until lost (then return); ``on_started`` is set once we lead."""
        while not self.stopped.is_set():
            outcome = await self.step()
            if outcome == "started":
                on_started.set()
            elif outcome == "stopped":
                return
            factor = 1.0 if self.was_leading else 1.0 + random.random() * (rules.JITTER_FACTOR - 1.0)
            await asyncio.sleep(self.config.retry_period * factor)

    async def release(self) -> bool:
        """Give the lease up if we hold it (on SIGTERM): the standby takes over at its next retry."""
        if not self.was_leading or self.observed is None or self.observed.holder != self.identity:
            return True
        was_leading = self.leading
        self.renewed_at = None  # write nothing else from here on
        if not was_leading:
            return False
        ok = await self._write(rules.released(self.observed, self.clock.now()))
        if not self.stopped.is_set():
            self._stop("released")
        log.info("leader.released", lease=self.config.name, identity=self.identity, ok=ok)
        return ok
