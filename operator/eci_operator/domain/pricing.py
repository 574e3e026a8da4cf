"""ECI prices, the simulated spot market, and the cost of a group's billed intervals.

Pay-as-you-go (eci.md §5): vCPU 0.000049 CNY/s, memory 0.00000613 CNY/GiB/s; ECS types are priced from
their vCPU and memory unless ``ECS_PRICE_PER_SECOND`` has an entry. Money is computed with ``Decimal`` so a
bill can be checked to the cent.

The spot market (our model, documented in the README): each (seed, zone, spec) has a fixed discount drawn
uniformly from 30 % to 90 % off the pay-as-you-go price (ECI's advertised range), so the spot price is
between 10 % and 70 % of it. It does not move over time: a scenario is reproducible from the seed alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from eci_operator.domain.phases import is_billed

VCPU_PER_SECOND = Decimal("0.000049")
GIB_PER_SECOND = Decimal("0.00000613")
# Types whose published price differs from vCPU/memory pricing would go here (CNY per second).
ECS_PRICE_PER_SECOND: dict[str, Decimal] = {}
SPOT_MIN_DISCOUNT = Decimal("0.30")
SPOT_MAX_DISCOUNT = Decimal("0.90")
PRICE_QUANTUM = Decimal("0.0000000001")


def on_demand_per_second(spec: str, vcpu: float, memory_gib: float) -> Decimal:
    if spec in ECS_PRICE_PER_SECOND:
        return ECS_PRICE_PER_SECOND[spec]
    return VCPU_PER_SECOND * Decimal(str(vcpu)) + GIB_PER_SECOND * Decimal(str(memory_gib))


def spot_discount(seed: int, zone: str, spec: str) -> Decimal:
    """The fixed spot discount of (seed, zone, spec), from 0.30 to 0.90."""
    digest = hashlib.sha256(f"{seed}/{zone}/{spec}".encode()).digest()
    u = Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)
    return (SPOT_MIN_DISCOUNT + (SPOT_MAX_DISCOUNT - SPOT_MIN_DISCOUNT) * u).quantize(Decimal("0.0001"))


def spot_per_second(seed: int, zone: str, spec: str, vcpu: float, memory_gib: float) -> Decimal:
    price = on_demand_per_second(spec, vcpu, memory_gib) * (1 - spot_discount(seed, zone, spec))
    return price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def per_hour(per_second: Decimal) -> Decimal:
    return per_second * 3600


def price_text(per_second: Decimal) -> str:
    """The decimal string stored in ContainerGroup.status.pricePerSecond (no exponent)."""
    return format(per_second.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP).normalize(), "f")


def billed_seconds(
    intervals: Iterable[tuple[str, dt.datetime, dt.datetime | None]], now: dt.datetime
) -> Decimal:
    """Seconds spent in billed phases; an open interval runs until ``now``."""
    total = Decimal(0)
    for phase, start, end in intervals:
        if not is_billed(phase):
            continue
        stop = end or now
        if stop > start:
            total += Decimal(str((stop - start).total_seconds()))
    return total


def cost(per_second: Decimal, seconds: Decimal) -> Decimal:
    return per_second * seconds


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
