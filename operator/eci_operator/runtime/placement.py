"""Where a new instance goes, walked the way ECI walks it: specs in order, vSwitches by strategy.

Holds the mutable capacity of the simulated cloud: each zone's availability and stock limits (from the
profiles), the instances each (zone, stock entry) runs, and the IP pools of the vSwitches. ``place`` returns
a ``Placement`` or the reason nothing could be placed (per zone, when the pod's vSwitches span zones and
fail-over tried them all); ``release`` gives capacity back.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from eci_operator.domain import pricing
from eci_operator.domain import stock as stock_rules
from eci_operator.models import keys
from eci_operator.models.containergroup import ScheduleStrategy, SpotStrategy
from eci_operator.models.profile import ECIProfileSpec, VSwitch
from eci_operator.runtime.ipam import AddressExhausted, VSwitchPool
from eci_operator.runtime.protocol import GroupRequest

NO_STOCK, STOCK_CLOSE = keys.NO_STOCK, keys.STOCK_CLOSE
IP_EXHAUSTED = "IpExhausted"  # our reason: ECI's custom-condition page lists none for a full vSwitch


@dataclass(frozen=True)
class Placement:
    spec: str
    vcpu: float
    memory_gib: float
    vswitch_id: str
    ip: str
    stock_key: str | None
    spot: bool
    price_per_second: Decimal
    zone_id: str


@dataclass(frozen=True)
class Refusal:
    """Why nothing was placed: ``NoStock`` or ``IpExhausted`` (may clear: fail-back waits), ``StockClose``.

    ``message`` is the detail of one zone; ``combined`` makes the pod's message (ECI's text around it).
    """

    reason: str
    message: str

    @property
    def retryable(self) -> bool:
        return self.reason in (NO_STOCK, IP_EXHAUSTED)


def combined(refusals: dict[str, Refusal]) -> Refusal:
    """One refusal for every allowed zone's: waiting when any zone may clear, naming each zone's reason.

    The reason is the first retryable zone's (else ``StockClose``); the message is ECI's for that reason
    (``NoStock``'s for an exhausted vSwitch, which waits like it), with each zone's reason and detail.
    """
    first = next((r for r in refusals.values() if r.retryable), None)
    reason = first.reason if first is not None else STOCK_CLOSE
    if len(refusals) == 1:
        detail = next(iter(refusals.values())).message
    else:
        detail = "; ".join(f"{zone}: {r.reason} ({r.message})" for zone, r in refusals.items())
    template = keys.STOCK_CLOSE_MESSAGE if reason == STOCK_CLOSE else keys.NO_STOCK_MESSAGE
    return Refusal(reason, template % detail)


@dataclass
class ZoneState:
    available: bool = True
    limits: dict[str, int] = field(default_factory=dict)
    used: Counter[str] = field(default_factory=Counter)
    seed: int = 0

    def exhausted(self) -> bool:
        return stock_rules.exhausted(self.limits, self.used)


class Capacity:
    def __init__(self) -> None:
        self.zones: dict[str, ZoneState] = {}
        self.pools: dict[str, VSwitchPool] = {}

    # ------------------------------------------------------------------------------------ configuration
    def configure(self, profile: ECIProfileSpec) -> list[str]:
        """Take a profile's simulation settings; return the zones that just became unavailable."""
        went_down = []
        for zone_id in dict.fromkeys(v.zone_id for v in profile.vswitches):
            settings = stock_rules.zone_settings(profile, zone_id)
            zone = self.zone(zone_id)
            if zone.available and not settings.available:
                went_down.append(zone_id)
            zone.available = settings.available
            zone.limits = stock_rules.normalised_stock(settings)
            zone.seed = profile.simulation.seed
        return went_down

    def zone(self, zone_id: str) -> ZoneState:
        return self.zones.setdefault(zone_id, ZoneState())

    def pool(self, vswitch: VSwitch) -> VSwitchPool:
        pool = self.pools.get(vswitch.id)
        if pool is None or pool.network != VSwitchPool(vswitch.id, vswitch.cidr).network:
            pool = self.pools[vswitch.id] = VSwitchPool(vswitch.id, vswitch.cidr)
        return pool

    # ---------------------------------------------------------------------------------------- placement
    def zones_in_order(self, request: GroupRequest) -> list[tuple[str, list[VSwitch]]]:
        """The pod's allowed zones with their vSwitches: its node's zone first, then the others as recorded.

        Within a zone the vSwitches follow ``eci-schedule-strategy`` (random: shuffled from seed and uid).
        """
        vswitches = list(request.vswitches)
        if request.spec.schedule_strategy == ScheduleStrategy.RANDOM and len(vswitches) > 1:
            random.Random(f"{request.seed}:{request.uid}").shuffle(vswitches)
        by_zone: dict[str, list[VSwitch]] = {request.spec.zone_id: []}
        for vswitch in vswitches:
            by_zone.setdefault(vswitch.zone_id, []).append(vswitch)
        return [(zone_id, found) for zone_id, found in by_zone.items() if found]

    def _price(
        self, request: GroupRequest, zone_id: str, spec: str, vcpu: float, mem: float
    ) -> tuple[bool, Decimal] | None:
        """(spot?, price per second) for this candidate, or None when its spot limit rules it out."""
        on_demand = pricing.on_demand_per_second(spec, vcpu, mem)
        spot = request.spec.spot
        if spot is None or spot.strategy == SpotStrategy.NO_SPOT:
            return False, on_demand
        market = pricing.spot_per_second(self.zone(zone_id).seed, zone_id, spec, vcpu, mem)
        limited = spot.strategy == SpotStrategy.WITH_PRICE_LIMIT and spot.price_limit is not None
        if limited and pricing.per_hour(market) > Decimal(str(spot.price_limit)):
            return (False, on_demand) if spot.fallback else None
        return True, market

    def place(self, request: GroupRequest) -> Placement | Refusal:
        """The first zone (the node's, then the other allowed ones) that can create the instance.

        "If an availability zone has insufficient inventory, the system automatically attempts to create
        the instance in another specified availability zone" (ECI, "Create pods in multiple zones").
        """
        refusals: dict[str, Refusal] = {}
        for zone_id, vswitches in self.zones_in_order(request):
            result = self._place_in_zone(request, zone_id, vswitches)
            if isinstance(result, Placement):
                return result
            refusals[zone_id] = result
        if not refusals:  # a record without vSwitches: nothing can be placed
            refusals[request.spec.zone_id] = Refusal(NO_STOCK, "no vSwitch recorded")
        return combined(refusals)

    def _place_in_zone(
        self, request: GroupRequest, zone_id: str, vswitches: list[VSwitch]
    ) -> Placement | Refusal:
        zone = self.zone(zone_id)
        if not zone.available:
            return Refusal(STOCK_CLOSE, f"zone {zone_id} is closed (simulated outage)")
        tried: list[str] = []
        ip_errors: list[str] = []
        for candidate in request.spec.candidates or []:
            priced = self._price(request, zone_id, candidate.spec, candidate.vcpu, candidate.memory_gib)
            if priced is None:
                tried.append(f"{candidate.spec} (spot price above the limit)")
                continue
            if not stock_rules.has_stock(zone.limits, zone.used, candidate.spec):
                tried.append(candidate.spec)
                continue
            for vswitch in vswitches:
                try:
                    ip = self.pool(vswitch).allocate(f"{request.seed}:{request.uid}")
                except AddressExhausted as exc:
                    ip_errors.append(str(exc))
                    continue
                key = stock_rules.stock_key(zone.limits, candidate.spec)
                if key is not None:
                    zone.used[key] += 1
                spot, price = priced
                return Placement(
                    candidate.spec,
                    candidate.vcpu,
                    candidate.memory_gib,
                    vswitch.id,
                    ip,
                    key,
                    spot,
                    price,
                    zone_id,
                )
            if ip_errors:
                return Refusal(IP_EXHAUSTED, "; ".join(dict.fromkeys(ip_errors)))
        return Refusal(NO_STOCK, f"zone {zone_id}: tried {', '.join(tried)}")

    def reserve(
        self, request: GroupRequest, zone_id: str, vswitch_id: str | None, ip: str | None, spec: str | None
    ) -> None:
        """Count a group adopted after a restart: its address and its stock (in the zone it runs in)."""
        zone = self.zone(zone_id)
        if spec is not None and (key := stock_rules.stock_key(zone.limits, spec)) is not None:
            zone.used[key] += 1
        for vswitch in request.vswitches:
            if vswitch.id == vswitch_id and ip:
                self.pool(vswitch).reserve(ip)

    def release(self, zone_id: str, stock_key: str | None, vswitch_id: str | None, ip: str | None) -> None:
        zone = self.zone(zone_id)
        if stock_key is not None and zone.used[stock_key] > 0:
            zone.used[stock_key] -= 1
        if vswitch_id and ip and vswitch_id in self.pools:
            self.pools[vswitch_id].release(ip)
