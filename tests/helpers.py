"""The one way tests wait: poll a predicate until it holds or a deadline passes.

No test sleeps on its own; every wait names what it waits for, so a timeout says what never happened
and shows the last value seen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline."""


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float,
    *,
    what: str = "condition",
    interval: float = 0.2,
) -> T:
    """Call ``predicate`` (sync or async) until it returns a truthy value; return that value.

    Exceptions raised by the predicate count as "not yet" and are reported if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = result
        except Exception as exc:  # the thing may not exist yet
            last = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)


def wait_for_sync(
    predicate: Callable[[], T], timeout: float, *, what: str = "condition", interval: float = 0.2
) -> T:
    """``wait_for`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last = result
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)
