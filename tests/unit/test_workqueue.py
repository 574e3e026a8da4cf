"""The keyed work queue: one worker per key, coalescing, re-run when dirty, backoff on failure."""

from __future__ import annotations

import asyncio

from eci_operator.handlers.workqueue import WorkQueue
from helpers import wait_for


async def test_coalesces_and_reruns_a_key_added_while_it_runs() -> None:
    seen: list[str] = []
    gate = asyncio.Event()

    async def process(key: str) -> None:
        seen.append(key)
        if len(seen) == 1:
            await gate.wait()

    queue: WorkQueue[str] = WorkQueue(process, workers=4)
    queue.start()
    queue.add("a")
    await wait_for(lambda: bool(seen), 5, what="a worker to pick up the key", interval=0.01)
    for _ in range(5):
        queue.add("a")  # while "a" runs: marked dirty once
    gate.set()
    await queue.drain()
    await queue.stop()
    assert seen == ["a", "a"]


async def test_failures_are_retried_with_backoff_and_others_proceed() -> None:
    attempts: dict[str, int] = {"bad": 0, "good": 0}

    async def process(key: str) -> None:
        attempts[key] += 1
        if key == "bad" and attempts[key] < 3:
            raise RuntimeError("transient")

    queue: WorkQueue[str] = WorkQueue(process, workers=2, base_delay=0.01, max_delay=0.05)
    queue.start()
    queue.add("bad")
    queue.add("good")
    await wait_for(lambda: attempts["bad"] >= 3, 5, what="the third attempt", interval=0.01)
    await queue.drain()
    await queue.stop()
    assert attempts == {"bad": 3, "good": 1}
    assert queue.errors == 2
