"""Prices, the spot market, stock rules and the bill: exact to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from eci_operator.domain import pricing
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


def test_ecs_types_are_priced_from_their_size_unless_listed() -> None:
    assert (
        pricing.on_demand_per_second("ecs.g7.xlarge", 4, 16)
        == Decimal("0.000049") * 4 + Decimal("0.00000613") * 16
    )


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_spot_is_30_to_90_percent_cheaper_and_deterministic(seed: int) -> None:
    on_demand = pricing.on_demand_per_second("2.0-4.0Gi", 2, 4)
    spot = pricing.spot_per_second(seed, "cn-hangzhou-i", "2.0-4.0Gi", 2, 4)
    assert on_demand * Decimal("0.1") <= spot <= on_demand * Decimal("0.7")
    assert spot == pricing.spot_per_second(seed, "cn-hangzhou-i", "2.0-4.0Gi", 2, 4)


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
