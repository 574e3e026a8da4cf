"""Prices, the spot market, stock rules and the bill: exact to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from eci_operator.domain import ecs_catalogue, pricing, spec_tables
from eci_operator.domain import stock as stock_rules
from eci_operator.domain.bill import bill_rows, format_table
from eci_operator.handlers.billing import Charge, apply_charges

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_on_demand_price_matches_the_published_example() -> None:
    # eci.md: 2 vCPU / 4 GiB for one hour costs 0.4412 CNY
    per_second = pricing.on_demand_per_second("2.0-4.0Gi", 2, 4)
    assert per_second == Decimal("0.00012252")
    assert pricing.cents(pricing.per_hour(per_second)) == Decimal("0.44")
    assert pricing.per_hour(per_second) == Decimal("0.441072")


def test_published_ecs_price_and_the_fallback_factor_derived_from_it() -> None:
    # eci.md section 3: ecs.c5.large 0.622 CNY/h against 0.4412 for 2 vCPU / 4 GiB
    assert pricing.per_hour(pricing.on_demand_per_second("ecs.c5.large", 2, 4)).quantize(
        Decimal("0.0001")
    ) == Decimal("0.6220")
    assert Decimal("1.4098") == pricing.ECS_FACTOR
    assert (
        pricing.on_demand_per_second("ecs.g7.xlarge", 4, 16)
        == (Decimal("0.000049") * 4 + Decimal("0.00000613") * 16) * pricing.ECS_FACTOR
    )


def test_every_catalogue_type_gets_a_published_or_fallback_price() -> None:
    names = ecs_catalogue.catalogue_names()
    assert set(pricing.ECS_PRICE_PER_HOUR) <= set(names)
    for name in names:
        found = ecs_catalogue.ecs_type(name, field="f")
        price = pricing.on_demand_per_second(name, found.vcpu, float(found.memory_gib))
        fallback = (
            Decimal("0.000049") * found.vcpu + Decimal("0.00000613") * Decimal(str(float(found.memory_gib)))
        ) * pricing.ECS_FACTOR
        assert price > 0, name
        assert price == pricing.ECS_PRICE_PER_SECOND.get(name, fallback), name


def test_every_spot_spec_is_matched_to_an_ecs_type() -> None:
    for vcpu, row in spec_tables.SPOT.items():
        for memory in row:
            assert ecs_catalogue.matching_type(vcpu, memory) is not None, (vcpu, memory)
    assert ecs_catalogue.matching_type(Fraction(2), Fraction(4)) == "ecs.c7.large"
    assert ecs_catalogue.matching_type(Fraction(52), Fraction(96)) == "ecs.c7.13xlarge"
    assert ecs_catalogue.matching_type(Fraction(2), Fraction(2)) == "ecs.ic5.large"
    assert ecs_catalogue.matching_type(Fraction(6), Fraction(12)) is None  # regional only: never spot


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize(("spec", "vcpu", "memory"), [("2.0-4.0Gi", 2, 4), ("ecs.g7.xlarge", 4, 16)])
def test_spot_is_30_to_90_percent_off_the_matched_type_and_deterministic(
    seed: int, spec: str, vcpu: int, memory: int
) -> None:
    market = pricing.spot_market_per_second(spec, vcpu, memory)
    assert market == pricing.on_demand_per_second(
        ecs_catalogue.matching_type(vcpu, memory) or spec, vcpu, memory
    )
    spot = pricing.spot_per_second(seed, "cn-hangzhou-i", spec, vcpu, memory)
    assert market * Decimal("0.1") <= spot <= market * Decimal("0.7")
    assert spot < pricing.on_demand_per_second(spec, vcpu, memory)  # always below pay-as-you-go
    assert spot == pricing.spot_per_second(seed, "cn-hangzhou-i", spec, vcpu, memory)


def test_billed_seconds_count_only_billed_phases_and_open_intervals_run_to_now() -> None:
    intervals = [("Pending", T0, at(2)), ("Running", at(2), at(12)), ("Succeeded", at(12), None)]
    assert pricing.billed_seconds(intervals, at(100)) == Decimal(12)
    assert pricing.billed_seconds([("Running", T0, None)], at(30)) == Decimal(30)


def test_stock_rules() -> None:
    limits = {"2.0-4.0Gi": 1, "*": 2}
    assert stock_rules.stock_key(limits, "2.0-4.0Gi") == "2.0-4.0Gi"
    assert stock_rules.stock_key(limits, "4.0-8.0Gi") == "*"
    assert stock_rules.stock_key({"2.0-4.0Gi": 0}, "4.0-8.0Gi") is None  # unlisted: unlimited
    assert stock_rules.has_stock(limits, {"2.0-4.0Gi": 0}, "2.0-4.0Gi")
    assert not stock_rules.has_stock(limits, {"2.0-4.0Gi": 1}, "2.0-4.0Gi")
    assert not stock_rules.exhausted(limits, {"2.0-4.0Gi": 1, "*": 1})
    assert stock_rules.exhausted(limits, {"2.0-4.0Gi": 1, "*": 2})
    assert not stock_rules.exhausted({"2.0-4.0Gi": 0}, {})  # other specs remain unlimited


def test_charges_accumulate_per_namespace() -> None:
    charge = Charge("ns", Decimal(20), Decimal(40), Decimal("0.0012252"))
    billing = apply_charges(None, [charge, charge])
    assert billing == {
        "namespaces": [
            {"namespace": "ns", "pods": 2, "vcpuSeconds": 40, "memoryGiBSeconds": 80, "cost": "0.0024504"}
        ]
    }
    again = apply_charges(billing, [Charge("other", Decimal(1), Decimal(2), Decimal("0.5"))])
    assert [r["namespace"] for r in again["namespaces"]] == ["ns", "other"]


def group(namespace: str, price: str, intervals: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ContainerGroup",
        "metadata": {"name": "g", "namespace": namespace},
        "spec": {"podName": "g", "podUid": "u", "nodeName": "n", "profile": "p", "zoneId": "cn-hangzhou-i"},
        "status": {
            "phase": "Running",
            "vcpu": 2,
            "memoryGiB": 4,
            "pricePerSecond": price,
            "billedIntervals": intervals,
        },
    }


def test_bill_adds_recorded_and_live_costs() -> None:
    profile = {
        "metadata": {"name": "p"},
        "status": {
            "billing": {
                "namespaces": [
                    {
                        "namespace": "ns",
                        "pods": 2,
                        "vcpuSeconds": 7200,
                        "memoryGiBSeconds": 14400,
                        "cost": "0.8824",
                    }
                ]
            }
        },
    }
    live = group("ns", "0.00012252", [{"phase": "Running", "start": "2026-01-01T00:00:00Z"}])
    rows = bill_rows([profile], [live], at(3600))
    assert len(rows) == 1
    assert rows[0].pods == 3
    assert rows[0].recorded == Decimal("0.8824")
    assert rows[0].live == Decimal("0.441072")
    table = format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["PROFILE", "NAMESPACE", "PODS"]
    assert table.splitlines()[1].split()[-1] == "1.32"
    assert format_table([]).startswith("PROFILE")  # the header even when empty
