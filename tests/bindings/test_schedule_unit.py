"""Reading cron schedules as Dapr's cron binding does, and LinkStatus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.components.bindings.base import LinkStatus
from edge.components.bindings.cron import Schedule
from edge.errors import ConfigError

AT = datetime(2024, 1, 1, 10, 20, 30, 500000, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize("text,expected", [
    ("@every 15s", datetime(2024, 1, 1, 10, 20, 45, 500000, tzinfo=UTC)),
    ("@every 1m30s", datetime(2024, 1, 1, 10, 22, 0, 500000, tzinfo=UTC)),
    ("*/20 * * * * *", datetime(2024, 1, 1, 10, 20, 40, tzinfo=UTC)),
    ("0 30 * * * *", datetime(2024, 1, 1, 10, 30, 0, tzinfo=UTC)),
    ("30 * * * *", datetime(2024, 1, 1, 10, 30, 0, tzinfo=UTC)),
    ("@hourly", datetime(2024, 1, 1, 11, 0, 0, tzinfo=UTC)),
    ("@daily", datetime(2024, 1, 2, 0, 0, 0, tzinfo=UTC)),
    ("0 0 0 * * 7", datetime(2024, 1, 7, 0, 0, 0, tzinfo=UTC)),
])
def test_next_run(text, expected):
    assert Schedule(text).next_after(AT) == expected


def test_time_zone_prefix():
    schedule = Schedule("CRON_TZ=Europe/Paris 0 0 12 * * *")
    assert schedule.zone_name == "Europe/Paris"
    assert schedule.next_after(AT.astimezone(schedule.zone)) == \
        datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "x", "* * *", "61 * * * * *", "@every soon",
                                  "CRON_TZ=Nowhere/City * * * * *", "* * * * * * *"])
def test_invalid_schedules(text):
    with pytest.raises(ConfigError) as info:
        Schedule(text)
    assert info.value.field == "schedule"


def test_link_status_counts_reconnects():
    link = LinkStatus()
    assert link.describe() == {"state": "connecting", "reconnects": 0}
    link.set("connected")
    link.set("disconnected", "port vanished")
    link.set("connected")
    assert link.describe() == {"state": "connected", "reconnects": 1,
                               "lastError": "port vanished"}
