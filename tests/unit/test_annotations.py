"""Annotation parsers: accepted forms, every bad-input class, and totality under arbitrary strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eci_operator.domain import PARSERS, DomainError
from eci_operator.domain import annotations as ann
from eci_operator.models import FailStrategy, ScheduleStrategy, SpotStrategy


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("2-4Gi", ["2.0-4.0Gi"]),
        ("2-4Gi,4-8Gi,ecs.c6.xlarge", ["2.0-4.0Gi", "4.0-8.0Gi", "ecs.c6.xlarge"]),
        (" 2-4Gi , 0.5-1Gi ", ["2.0-4.0Gi", "0.5-1.0Gi"]),
        (
            "1-2Gi,2-4Gi,4-8Gi,8-16Gi,16-32Gi",
            ["1.0-2.0Gi", "2.0-4.0Gi", "4.0-8.0Gi", "8.0-16.0Gi", "16.0-32.0Gi"],
        ),
        ("2-3Gi", ["2.0-3.0Gi"]),  # as written: resolve rounds it onto the pod's table
        ("ecs.gn6i-c4g1.xlarge,ecs.gn6v-c8g1.2xlarge", ["ecs.gn6i-c4g1.xlarge", "ecs.gn6v-c8g1.2xlarge"]),
        ("ecs.g8y.large,ecs.c8y.xlarge", ["ecs.g8y.large", "ecs.c8y.xlarge"]),  # ARM with ARM
        ("ecs.t5-c1m2.large,2-4Gi,ecs.c6.xlarge", ["ecs.t5-c1m2.large", "2.0-4.0Gi", "ecs.c6.xlarge"]),
    ],
)
def test_use_specs(value: str, names: list[str]) -> None:
    assert [c.name for c in ann.parse_use_specs(value)] == names


@pytest.mark.parametrize(
    ("value", "token", "why"),
    [
        ("", "", "empty"),
        ("  ", "  ", "empty"),
        ("2-4Gi,", "2-4Gi,", "empty item"),
        ("2-4Gi,,4-8Gi", "2-4Gi,,4-8Gi", "empty item"),
        (
            "1-2Gi,2-4Gi,4-8Gi,8-16Gi,16-32Gi,32-64Gi",
            "1-2Gi,2-4Gi,4-8Gi,8-16Gi,16-32Gi,32-64Gi",
            "more than 5",
        ),
        ("2-4Gi,2.0-4.0Gi", "2.0-4.0Gi", "listed twice"),
        ("ecs.g7.large,ecs.g7.large", "ecs.g7.large", "listed twice"),
        ("2-4Gi,65-3Gi", "65-3Gi", "larger than the largest ECI spec"),
        ("2-4Gi,0-3Gi", "0-3Gi", "more than 0"),
        (
            "ecs.gn6i-c4g1.xlarge,2-4Gi",
            "ecs.gn6i-c4g1.xlarge,2-4Gi",
            "gpu types (ecs.gn6i-c4g1.xlarge) cannot",
        ),
        ("ecs.g8y.large,ecs.g7.large", "ecs.g8y.large,ecs.g7.large", "arm types (ecs.g8y.large) cannot"),
        ("ecs.i2.xlarge,4-32Gi", "ecs.i2.xlarge,4-32Gi", "local-disk types (ecs.i2.xlarge) cannot"),
        ("2-4Gi;4-8Gi", "2-4Gi;4-8Gi", "not a vCPU-memory spec"),
    ],
)
def test_use_specs_errors(value: str, token: str, why: str) -> None:
    with pytest.raises(DomainError) as caught:
        ann.parse_use_specs(value)
    error = caught.value
    assert (error.field, error.value) == (ann.USE_SPECS, token)
    assert why in error.why
    assert str(error).startswith(f"{ann.USE_SPECS}: {token!r} is not valid: ")
    assert "; allowed: " in str(error)


def test_vswitch_and_security_group_lists() -> None:
    assert ann.parse_vswitch_ids("vsw-a, vsw-b") == ("vsw-a", "vsw-b")
    assert ann.parse_security_group_ids("sg-a") == ("sg-a",)
    with pytest.raises(DomainError, match="more than 10"):
        ann.parse_vswitch_ids(",".join(f"vsw-{i}" for i in range(11)))
    with pytest.raises(DomainError, match="more than 5"):
        ann.parse_security_group_ids(",".join(f"sg-{i}" for i in range(6)))
    with pytest.raises(DomainError, match="not a vSwitch id"):
        ann.parse_vswitch_ids("subnet-1")
    with pytest.raises(DomainError, match="not a security group id"):
        ann.parse_security_group_ids("sg-a,vsw-b")
    with pytest.raises(DomainError, match="listed twice"):
        ann.parse_vswitch_ids("vsw-a,vsw-a")


@pytest.mark.parametrize(
    ("parser", "good", "expected", "bad"),
    [
        (ann.parse_schedule_strategy, "VSwitchOrdered", ScheduleStrategy.ORDERED, "vswitchordered"),
        (ann.parse_schedule_strategy, "VSwitchRandom", ScheduleStrategy.RANDOM, "Random"),
        (ann.parse_spot_strategy, "SpotAsPriceGo", SpotStrategy.AS_PRICE_GO, "NoSpot"),
        (ann.parse_spot_strategy, "SpotWithPriceLimit", SpotStrategy.WITH_PRICE_LIMIT, "spot"),
        (ann.parse_spot_price_limit, "0.5", "0.5", "0.5555"),
        (ann.parse_spot_price_limit, "0.500", "0.5", "-1"),
        (ann.parse_spot_price_limit, "10", "10", "0"),
        (ann.parse_spot_price_limit, "0.125", "0.125", "1e2"),
        (ann.parse_spot_price_limit, "3", "3", ".5"),
        (ann.parse_spot_duration, "0", 0, "2"),
        (ann.parse_spot_duration, "1", 1, "1h"),
        (ann.parse_spot_fallback, "true", True, "True"),
        (ann.parse_spot_fallback, "false", False, "yes"),
        (ann.parse_fail_strategy, "fail-back", FailStrategy.FAIL_BACK, "failback"),
        (ann.parse_fail_strategy, "fail-fast", FailStrategy.FAIL_FAST, "FAIL-FAST"),
        (ann.parse_max_pending_minutes, "10", 10, "9"),
        (ann.parse_max_pending_minutes, "1440", 1440, "1441"),
        (ann.parse_max_pending_minutes, "240", 240, "240.0"),
        (ann.parse_max_pending_minutes, "30", 30, "-30"),
    ],
)
def test_scalar_parsers(parser: Any, good: str, expected: object, bad: str) -> None:
    assert parser(good) == expected
    with pytest.raises(DomainError) as caught:
        parser(bad)
    assert caught.value.value == bad
    assert caught.value.field.startswith(ann.PREFIX)
    assert caught.value.allowed


def test_limits_are_named_in_allowed() -> None:
    with pytest.raises(DomainError) as caught:
        ann.parse_max_pending_minutes("5")
    assert "10 to 1440" in caught.value.allowed
    with pytest.raises(DomainError) as caught:
        ann.parse_spot_price_limit("0.1234")
    assert "3" in caught.value.allowed


def _outcome(parser: Callable[[str], object], value: str) -> DomainError | None:
    """The DomainError a parser raises, or None; any other exception propagates and fails the test."""
    try:
        parser(value)
    except DomainError as error:
        return error
    return None


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(PARSERS)), value=st.text(max_size=80))
def test_every_parser_is_total(name: str, value: str) -> None:
    """Only DomainError can come out of a parser, and it names the annotation."""
    error = _outcome(PARSERS[name], value)
    if error is not None:
        assert error.field == name
        assert error.allowed


_TOKEN_ALPHABET = st.sampled_from(list("0123456789.-,Gi ecsgcrlaxv"))


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(PARSERS)), value=st.text(_TOKEN_ALPHABET, max_size=40))
def test_every_parser_is_total_near_valid_input(name: str, value: str) -> None:
    error = _outcome(PARSERS[name], value)
    if error is not None:
        assert error.field == name


@given(
    st.lists(
        st.sampled_from(["0.25-0.5Gi", "2-4Gi", "ecs.g7.xlarge", "64-512Gi", "1.0-8Gi"]),
        min_size=1,
        max_size=5,
        unique=True,
    )
)
def test_use_specs_round_trip(tokens: list[str]) -> None:
    candidates = ann.parse_use_specs(", ".join(tokens))
    again = ann.parse_use_specs(",".join(c.name for c in candidates))
    assert again == candidates


@given(st.decimals(min_value="0.001", max_value="999999", places=3))
def test_price_limit_round_trip(price: Any) -> None:
    text = ann.parse_spot_price_limit(str(price))
    assert ann.parse_spot_price_limit(text) == text


@given(st.integers(min_value=10, max_value=1440))
def test_max_pending_round_trip(minutes: int) -> None:
    assert ann.parse_max_pending_minutes(str(minutes)) == minutes


@given(st.lists(st.from_regex(r"vsw-[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=10, unique=True))
def test_vswitch_round_trip(ids: list[str]) -> None:
    assert ann.parse_vswitch_ids(" , ".join(ids)) == tuple(ids)
