"""Fixtures of the handler tier (see handler_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from handler_helpers import Harness, make_harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await make_harness()
    yield h
    await h.operator.stop(drain_seconds=1.0)
