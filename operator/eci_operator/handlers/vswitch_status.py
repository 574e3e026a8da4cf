"""Each VSwitch's status: addresses in use and free, and whether it serves (``Valid``).

One aggregated write per vSwitch, only when a figure changed, from a periodic pass (``Settings.
vswitch_status_seconds``) and after VSwitch edits: never a write per pod.
"""

from __future__ import annotations

from typing import Any

import structlog

from eci_operator.domain import conditions
from eci_operator.domain import vswitches as inventory
from eci_operator.domain.kubetime import stamp
from eci_operator.handlers.ask_config import AskConfig
from eci_operator.handlers.store import Store
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import NotFound
from eci_operator.runtime.clock import Clock

log = structlog.get_logger("eci_operator.vswitches")


class VSwitchStatusWriter:
    def __init__(self, client: KubeClient, config: AskConfig, groups: Store, clock: Clock) -> None:
        self.client = client
        self.config = config
        self.groups = groups
        self.clock = clock

    def _want(self, name: str, body: dict[str, Any], used: int) -> dict[str, Any]:
        old = (body.get("status") or {}).get("conditions") or []
        problem = self.config.overlapping.get(name) or self.config.invalid.get(name)
        valid = conditions.condition(
            "Valid",
            problem is None,
            stamp(self.clock.now()),
            previous=old,
            reason="Overlap" if name in self.config.overlapping else "Invalid" if problem else "Accepted",
            message=problem or "the vSwitch serves",
        )
        want: dict[str, Any] = {"ipsInUse": used, "conditions": [valid]}
        cidr = (body.get("spec") or {}).get("cidrBlock")
        if problem is None and cidr:
            want["availableIpAddressCount"] = max(0, inventory.capacity(str(cidr)) - used)
        return want

    async def write(self) -> None:
        usage = inventory.addresses_in_use(self.groups.items.values())
        for name, body in sorted(self.config.vswitches.items()):
            vswitch_id = str((body.get("spec") or {}).get("vSwitchId") or name)
            want = self._want(name, body, usage.get(vswitch_id, 0))
            old = body.get("status") or {}
            if all(old.get(k) == v for k, v in want.items()):
                continue
            try:
                updated = await self.client.merge_patch(paths.vswitch_status(name), {"status": want})
            except NotFound:
                continue
            self.config.vswitches[name] = updated
            log.info(
                "vswitch.status",
                vswitch=name,
                in_use=want["ipsInUse"],
                valid=name not in self.config.overlapping,
            )
