"""ECI prices, the simulated spot market, and the cost of a group's billed intervals.

Pay-as-you-go (eci.md section 5, "ECI instance billing"): a vCPU-memory spec costs vCPU 0.000049 CNY/s and
memory 0.00000613 CNY/GiB/s; an ECS type bills at that type's price ("Pods created with an ECS type are
billed at that type's price"). Published ECS prices are in ``ECS_PRICE_PER_HOUR`` with their source; a
type without one is priced by our fallback rule: its vCPUs and memory at the vCPU-memory rates times
``ECS_FACTOR``, the ratio of the one published sample (``ecs.c5.large`` 0.622 CNY/h) to the same shape as a
vCPU-memory spec (2 vCPU / 4 GiB, 0.4412 CNY/h). Money is computed with ``Decimal`` so a bill can be
checked to the cent.

The spot market (our model, documented in the README): "the discount applies to the matched ECS type's
market price" (help.aliyun.com/document_detail/165053.htm), so a spot spec is priced from its ECS type (a
vCPU-memory spec from ``ecs_catalogue.matching_type``); each (seed, zone, spec) has a fixed discount drawn
uniformly from 30 % to 90 % (ECI's advertised range). It does not move over time: a scenario is
reproducible from the seed alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from eci_operator.domain.ecs_catalogue import is_ecs_name, matching_type
from eci_operator.domain.phases import is_billed

VCPU_PER_SECOND = Decimal("0.000049")
GIB_PER_SECOND = Decimal("0.00000613")
ECS_PRICE_PER_HOUR: dict[str, Decimal] = {
    # DescribeContainerGroupPrice sample quoted in eci.md section 3 (pay-as-you-go, cn-hangzhou).
    "ecs.c5.large": Decimal("0.622"),
}
"""Published pay-as-you-go prices of ECS types, CNY per hour, each with its source."""
ECS_PRICE_PER_SECOND: dict[str, Decimal] = {
    name: (hourly / 3600).quantize(Decimal("0.000000000001")) for name, hourly in ECS_PRICE_PER_HOUR.items()
}
# 0.622 / (2 x 0.1764 + 4 x 0.0221) = 0.622 / 0.4412: what the sample pays over its vCPU-memory shape.
ECS_FACTOR = (Decimal("0.622") / Decimal("0.4412")).quantize(Decimal("0.0001"))
SPOT_MIN_DISCOUNT = Decimal("0.30")
SPOT_MAX_DISCOUNT = Decimal("0.90")
PRICE_QUANTUM = Decimal("0.0000000001")


def _shape_per_second(vcpu: float, memory_gib: float) -> Decimal:
    return VCPU_PER_SECOND * Decimal(str(vcpu)) + GIB_PER_SECOND * Decimal(str(memory_gib))


def ecs_type_per_second(name: str, vcpu: float, memory_gib: float) -> Decimal:
    """An ECS type's pay-as-you-go price: published if ``ECS_PRICE_PER_HOUR`` has it, else the fallback."""
    if name in ECS_PRICE_PER_SECOND:
        return ECS_PRICE_PER_SECOND[name]
    return _shape_per_second(vcpu, memory_gib) * ECS_FACTOR


def on_demand_per_second(spec: str, vcpu: float, memory_gib: float) -> Decimal:
    """Pay-as-you-go price of ``spec``: vCPU-memory rates, or the ECS type's price."""
    if is_ecs_name(spec):
        return ecs_type_per_second(spec, vcpu, memory_gib)
    return _shape_per_second(vcpu, memory_gib)


def spot_market_per_second(spec: str, vcpu: float, memory_gib: float) -> Decimal:
    """The pay-as-you-go price a spot discount applies to: the (matched) ECS type's."""
    if is_ecs_name(spec):
        return ecs_type_per_second(spec, vcpu, memory_gib)
    matched = matching_type(Fraction(vcpu), Fraction(memory_gib))
    return ecs_type_per_second(matched or "", vcpu, memory_gib)


def spot_discount(seed: int, zone: str, spec: str) -> Decimal:
    """The fixed spot discount of (seed, zone, spec), from 0.30 to 0.90."""
    digest = hashlib.sha256(f"{seed}/{zone}/{spec}".encode()).digest()
    u = Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)
    return (SPOT_MIN_DISCOUNT + (SPOT_MAX_DISCOUNT - SPOT_MIN_DISCOUNT) * u).quantize(Decimal("0.0001"))


def spot_per_second(seed: int, zone: str, spec: str, vcpu: float, memory_gib: float) -> Decimal:
    """The spot price of ``spec`` in ``zone``: its matched ECS type's price less the fixed discount."""
    price = spot_market_per_second(spec, vcpu, memory_gib) * (1 - spot_discount(seed, zone, spec))
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
