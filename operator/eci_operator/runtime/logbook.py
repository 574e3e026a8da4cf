"""What the simulated containers print: lifecycle lines plus the pod's ``eci.ask.dev/stdout``.

Kept per group and container (bounded), with a condition so ``kubectl logs -f`` followers wake up when a
line is added; a follower stops when its container has terminated for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

MAX_LINES = 2000


@dataclass(frozen=True)
class LogLine:
    at: dt.datetime
    container: str
    text: str


class LogBook:
    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], deque[LogLine]] = {}
        self._closed: set[tuple[tuple[str, str], str]] = set()
        self._changed: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def write(self, key: tuple[str, str], container: str, text: str, at: dt.datetime) -> None:
        self._lines.setdefault(key, deque(maxlen=MAX_LINES)).append(LogLine(at, container, text))
        self._wake()

    def close(self, key: tuple[str, str], container: str) -> None:
        """No more lines will come for this container (it terminated for good)."""
        self._closed.add((key, container))
        self._wake()

    def reopen(self, key: tuple[str, str], container: str) -> None:
        self._closed.discard((key, container))

    def forget(self, key: tuple[str, str]) -> None:
        self._lines.pop(key, None)
        self._closed = {c for c in self._closed if c[0] != key}
        self._wake()

    def _wake(self) -> None:
        changed = self._changed
        if changed is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        async def notify() -> None:
            async with changed:
                changed.notify_all()

        task = loop.create_task(notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def lines(self, key: tuple[str, str], container: str) -> list[LogLine]:
        return [line for line in self._lines.get(key, ()) if line.container == container]

    def known(self, key: tuple[str, str]) -> bool:
        return key in self._lines

    async def follow(self, key: tuple[str, str], container: str, start: int) -> AsyncIterator[LogLine]:
        """Lines from index ``start`` on, then new ones as they come, until the container is done."""
        sent = start
        changed = self._condition()
        while True:
            current = self.lines(key, container)
            while sent < len(current):
                yield current[sent]
                sent += 1
                current = self.lines(key, container)  # lines may have come while the consumer waited
            if (key, container) in self._closed or key not in self._lines:
                return
            async with changed:
                await changed.wait()
