"""Fault suite: the real control plane, the operator as a real process, and faults injected for real.

SIGKILL and SIGSTOP of the operator, a restart of kube-apiserver, and an HTTPS proxy between the operator
and the apiserver that injects errors, resets, latency and 410 watch expiries. After each fault the
invariant checker (``eci_operator.domain.invariants``, the same as ``eci-operator check``) must find
nothing within a bound. Sizes: ``ECI_FAULT_PODS`` (CI default 150; ``make test-faults`` uses 1000).
The summary at the end lists the faults injected and the invariant checks run.
"""

from __future__ import annotations

from typing import Any

from fault_helper import STATS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS:
        return
    terminalreporter.section("fault suite summary")
    faults = {k[6:]: n for k, n in sorted(STATS.items()) if k.startswith("fault:")}
    detail = ", ".join(f"{k}={n}" for k, n in faults.items())
    terminalreporter.write_line(f"faults injected: {sum(faults.values())} ({detail})")
    terminalreporter.write_line(f"invariant checks run: {STATS['checks']}")
    terminalreporter.write_line(f"anything lost (violations left): {STATS['lost']}")
