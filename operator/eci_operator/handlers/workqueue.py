"""A keyed work queue with bounded concurrency and per-key retry backoff (client-go's workqueue, small).

Watch events only say "look at this key again"; a key is processed by one worker at a time, a key added
while it is being processed is processed once more afterwards, and a key queued many times is processed
once. Failures are retried with exponential backoff (capped), so one bad object never blocks the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

from eci_operator.handlers.tasks import cancel_all

K = TypeVar("K", bound=Hashable)

log = structlog.get_logger("eci_operator.queue")


class WorkQueue(Generic[K]):
    def __init__(
        self,
        process: Callable[[K], Awaitable[None]],
        *,
        workers: int = 32,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
    ) -> None:
        self._process = process
        self._workers = workers
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._retry_timers: dict[K, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.processed = 0
        self.errors = 0

    def __len__(self) -> int:
        return len(self._queued) + len(self._active)

    def add(self, key: K) -> None:
        """Ask for ``key`` to be processed (again); cheap and idempotent."""
        if key in self._active:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.put_nowait(key)

    def add_after(self, key: K, seconds: float) -> None:
        """Process ``key`` after ``seconds`` (an earlier pending retry of the key wins)."""
        if key in self._retry_timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retry_timers.pop(key, None)
            self.add(key)

        self._retry_timers[key] = loop.call_later(seconds, fire)

    def start(self) -> None:
        for i in range(self._workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"eci-worker-{i}"))

    async def stop(self) -> None:
        for timer in self._retry_timers.values():
            timer.cancel()
        await cancel_all(self._tasks)

    async def drain(self) -> None:
        """Wait until no key is queued or in progress (used at shutdown to finish in-flight writes)."""
        while self._queued or self._active:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self._process(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = min(self._max_delay, self._base_delay * 2 ** (failures - 1))
                log.warning("queue.retry", key=str(key), attempt=failures, delay=delay, error=repr(exc))
                self.add_after(key, delay)
            else:
                self._failures.pop(key, None)
            finally:
                self.processed += 1
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
