"""client-go's election rules as ``domain.leader`` states them: expiry by the observer's clock, transitions,
release, and the duration checks."""

from __future__ import annotations

import datetime as dt

import pytest

from eci_operator.domain import leader as rules

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_a_lease_is_held_until_its_duration_has_passed_since_we_observed_it() -> None:
    held = rules.Record("other", 15, "x", "2020-01-01T00:00:00.000000Z", 3)  # renewTime long ago: ignored
    assert rules.held_by_other(held, T0, "me", T0 + dt.timedelta(seconds=14.9))
    assert not rules.held_by_other(held, T0, "me", T0 + dt.timedelta(seconds=15))
    assert not rules.held_by_other(held, T0, "other", T0)  # our own
    assert not rules.held_by_other(rules.Record("", 15), T0, "me", T0)  # released


def test_a_new_holder_counts_a_transition_and_the_same_holder_keeps_its_acquire_time() -> None:
    first = rules.claim(None, "a", T0, 15)
    assert (first.holder, first.duration_seconds, first.transitions) == ("a", 15, 0)
    renewed = rules.claim(first, "a", T0 + dt.timedelta(seconds=2), 15)
    assert renewed.acquire_time == first.acquire_time
    assert renewed.transitions == 0
    assert renewed.renew_time != first.renew_time
    taken = rules.claim(renewed, "b", T0 + dt.timedelta(seconds=20), 15)
    assert (taken.holder, taken.transitions) == ("b", 1)
    assert taken.acquire_time == taken.renew_time


def test_release_empties_the_holder_for_one_second_and_keeps_the_count() -> None:
    out = rules.released(rules.Record("a", 15, "t", "t", 4), T0)
    assert (out.holder, out.duration_seconds, out.transitions) == ("", 1, 4)
    assert rules.Record.of({"spec": out.spec()}) == out


def test_takeover_time_is_measured_from_the_last_renewal() -> None:
    previous = rules.claim(None, "a", T0, 15)
    assert rules.takeover_seconds(previous, T0 + dt.timedelta(seconds=16.5)) == pytest.approx(16.5)
    assert rules.takeover_seconds(rules.Record(), T0) is None


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [(10, 10, 2, "greater than the renew deadline"), (15, 2, 2, "1.2 x"), (15, 10, 0, "greater than zero")],
)
def test_durations_are_checked_as_client_go_checks_them(
    lease: float, renew: float, retry: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rules.validate_durations(lease, renew, retry)
    rules.validate_durations(15, 10, 2)
