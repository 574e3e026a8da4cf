"""Shared by the fault tests: sizes, the fault tally, and the invariant wait."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from eci_operator.cli.check import snapshot, violations
from helpers import wait_for

FAULT_PODS = int(os.environ.get("ECI_FAULT_PODS", "150"))
ANNOTATION_PODS = int(os.environ.get("ECI_FAULT_ANNOTATION_PODS", "120"))
STATS: Counter[str] = Counter()


def record_fault(kind: str, n: int = 1) -> None:
    STATS[f"fault:{kind}"] += n


async def invariants_hold(kubeconfig: Path, within: float, what: str) -> None:
    """Wait until ``eci-operator check`` finds nothing (grace for work in flight: 10 s)."""
    last: list[Any] = []

    async def clean() -> bool:
        nonlocal last
        STATS["checks"] += 1
        last = violations(await snapshot(str(kubeconfig)), grace=10)
        return not last

    try:
        await wait_for(clean, within, what=f"invariants to hold {what}", interval=1)
    except AssertionError:
        STATS["lost"] += len(last)
        raise AssertionError(f"invariants broken {what}:\n" + "\n".join(map(str, last))) from None
