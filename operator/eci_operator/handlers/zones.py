"""Which zones last showed "no stock left": a change asks for a node reconcile (the node's condition).

The pod controllers report every zone whose stock they touched; only a change of the zone's exhausted state
wakes the node controller, so a burst of pods costs no node work.
"""

from __future__ import annotations

from collections.abc import Callable

from eci_operator.runtime.protocol import Runtime


class ExhaustionWatch:
    def __init__(self, runtime: Runtime, wake_nodes: Callable[[], None]) -> None:
        self._runtime = runtime
        self._wake = wake_nodes
        self._exhausted: dict[str, bool] = {}

    def seen(self, zone_id: str, exhausted: bool) -> None:
        """The node controller's own view of a zone (no wake-up: it is reconciling already)."""
        self._exhausted[zone_id] = exhausted

    def check(self, zone_id: str | None) -> None:
        if not zone_id:
            return
        exhausted = self._runtime.zone_report(zone_id).exhausted
        if self._exhausted.get(zone_id, False) != exhausted:
            self._exhausted[zone_id] = exhausted
            self._wake()
