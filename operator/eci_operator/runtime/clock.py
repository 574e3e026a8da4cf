"""Time for the simulated runtime, injected so tests can drive it without sleeping.

``LoopClock`` is wall time with timers on the asyncio loop; ``ManualClock`` only moves when told to and fires
due timers in order, deterministically.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...

    def call_at(self, when: dt.datetime, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (which must not block) once ``when`` has come; cancellable."""
        ...


class LoopClock:
    """Wall-clock time; timers run on the running asyncio loop."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def call_at(self, when: dt.datetime, callback: Callable[[], None]) -> Timer:
        delay = max(0.0, (when - self.now()).total_seconds())
        return asyncio.get_running_loop().call_later(delay, callback)


class _ManualTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock for tests: ``advance(seconds)`` fires every timer that comes due, in time order."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self._heap: list[tuple[dt.datetime, int, _ManualTimer, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> dt.datetime:
        return self._now

    def call_at(self, when: dt.datetime, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer()
        heapq.heappush(self._heap, (when, next(self._seq), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        target = self._now + dt.timedelta(seconds=seconds)
        while self._heap and self._heap[0][0] <= target:
            when, _, timer, callback = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            if not timer.cancelled:
                callback()
        self._now = target
