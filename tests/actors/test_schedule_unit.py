"""The dueTime, period and ttl formats Dapr accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.runtime.actors.schedule import Period, ScheduleError, due_at, expires_at, period

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "seconds"), [
    ("", 0), ("0h0m3s0ms", 3), ("1m30s", 90), ("PT1M30S", 90), ("P1D", 86400),
    ("0h0m5s0ms0\u03bcs", 5),  # as the Python SDK writes durations
])
def test_due_time_durations(text, seconds):
    assert due_at(text, NOW) == NOW + seconds


def test_due_time_as_a_moment():
    moment = datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    assert due_at("2027-01-15T08:00:00Z", NOW) == moment
    assert due_at("2027-01-15T10:00:00+02:00", NOW) == due_at("2027-01-15T08:00:00Z", NOW)


@pytest.mark.parametrize(("text", "expected"), [
    ("", Period(None, None)), ("20s", Period(20, None)), ("PT10S", Period(10, None)),
    ("R3/PT10S", Period(10, 3)), ("R1/1m", Period(60, 1)),
    ("0s", Period(None, None)), ("0h0m0s0ms0\u03bcs", Period(None, None)),  # once
])
def test_periods(text, expected):
    assert period(text, NOW) == expected


def test_a_month_is_counted_from_now():
    # 2027-01-15 + one month = 2027-02-15: 31 days.
    january = datetime(2027, 1, 15, tzinfo=UTC).timestamp()
    assert period("P1M", january).seconds == 31 * 86400


@pytest.mark.parametrize(("text", "message"), [
    ("soon", "neither a duration"), ("R0/PT1S", "above 0"), ("-5s", "negative"),
])
def test_bad_periods(text, message):
    with pytest.raises(ScheduleError, match=message):
        period(text, NOW)


def test_ttl():
    assert expires_at("", NOW, NOW) is None
    assert expires_at("1h", NOW, NOW) == NOW + 3600
    with pytest.raises(ScheduleError, match="before the reminder's first firing"):
        expires_at("1s", NOW + 60, NOW)
    with pytest.raises(ScheduleError, match="negative"):
        due_at("-1s", NOW)
