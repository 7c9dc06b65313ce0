"""When reminders and timers fire, from the formats Dapr accepts.

`dueTime`: a Go duration ("1m30s"), an ISO 8601 duration ("PT90S") or an
RFC 3339 time; empty means now. `period`: a Go or ISO 8601 duration, the
latter optionally prefixed by `R<n>/` to fire n times; empty or zero means once.
`ttl`: a duration or an RFC 3339 time after which the reminder is dropped."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import isodate

from edge.components.metadata import parse_duration

_REPEATS = re.compile(r"^R(\d+)/(.+)$")


class ScheduleError(ValueError):
    """A dueTime, period or ttl that cannot be read."""


def _seconds(text: str, what: str, now: float) -> float:
    """A Go or ISO 8601 duration in seconds (ISO months and years from `now`)."""
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise ScheduleError(f"{what} {text!r} is neither a duration (1m30s) nor an ISO 8601 "
                            "duration (PT1M30S)") from None
    if isinstance(value, timedelta):
        return value.total_seconds()
    start = datetime.fromtimestamp(now, UTC)
    return ((start + value) - start).total_seconds()


def _moment(text: str) -> float | None:
    try:
        return isodate.parse_datetime(text).timestamp()
    except (isodate.ISO8601Error, ValueError):
        return None


def due_at(due_time: str, now: float) -> float:
    """The first firing, as a Unix time."""
    text = due_time.strip()
    if not text:
        return now
    moment = _moment(text) if "T" in text and not text.startswith("P") else None
    if moment is not None:
        return moment
    seconds = _seconds(text, "dueTime", now)
    if seconds < 0:
        raise ScheduleError(f"dueTime {text!r} is negative")
    return now + seconds


@dataclass(frozen=True)
class Period:
    seconds: float | None  # None: fire once
    repeats: int | None  # None: until deleted (or ttl)


def period(text: str, now: float) -> Period:
    text = text.strip()
    if not text:
        return Period(None, None)
    repeats = None
    match = _REPEATS.match(text)
    if match:
        repeats, text = int(match.group(1)), match.group(2)
        if repeats <= 0:
            raise ScheduleError(f"period repetitions must be above 0, not R{repeats}")
    seconds = _seconds(text, "period", now)
    if seconds < 0:
        raise ScheduleError(f"period {text!r} is negative")
    # A zero period fires once, as in Dapr (the Python SDK's one-shot timer sends "0h0m0s").
    return Period(seconds or None, repeats)


def expires_at(ttl: str, due: float, now: float) -> float | None:
    """When a reminder stops; it must outlive its first firing."""
    text = ttl.strip()
    if not text:
        return None
    moment = _moment(text) if "T" in text and not text.startswith("P") else None
    if moment is None:
        seconds = _seconds(text, "ttl", now)
        if seconds <= 0:
            raise ScheduleError(f"ttl {text!r} must be above zero")
        moment = now + seconds
    if moment < due:
        raise ScheduleError(f"ttl {text!r} ends before the reminder's first firing")
    return moment


def now() -> float:
    return time.time()
