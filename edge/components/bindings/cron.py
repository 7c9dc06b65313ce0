"""bindings.cron: an input binding that fires on a schedule.

Schedules are read as Dapr's cron binding reads them: 6 fields with seconds
first, or 5 without; descriptors (@hourly, @daily, ...); `@every <duration>`;
and an optional `CRON_TZ=<zone>` (or `TZ=`) prefix. Cron expressions are
computed by croniter. A tick that comes while the previous event is still
being delivered is skipped: no catching up after a pause."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from edge.components.base import ComponentContext
from edge.components.bindings.base import COMMON_FIELDS, InputBinding, InputHandler
from edge.components.metadata import Field, parse_duration
from edge.errors import ConfigError

log = logging.getLogger("edge.components.bindings.cron")

_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}


class Schedule:
    """When a schedule fires next."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.zone, self.zone_name, spec = _zone(text.strip())
        self.every: float | None = None
        self.expr = ""
        if spec.startswith("@every "):
            self.every = _every(spec[len("@every "):])
        else:
            self.expr = _expression(spec)

    def now(self) -> datetime:
        return datetime.now(self.zone) if self.zone else datetime.now().astimezone()

    def next_after(self, moment: datetime) -> datetime:
        if self.every is not None:
            return moment + timedelta(seconds=self.every)
        found: datetime = croniter(self.expr, moment, second_at_beginning=True).get_next(datetime)
        return found


def _zone(text: str) -> tuple[tzinfo | None, str, str]:
    for prefix in ("CRON_TZ=", "TZ="):
        if text.startswith(prefix):
            name, _, rest = text[len(prefix):].partition(" ")
            try:
                return ZoneInfo(name), name, rest.strip()
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"unknown time zone {name!r}", field="schedule") from None
    return None, "Local", text


def _every(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"invalid schedule format: {exc}", field="schedule") from None
    # As Dapr's cron library: at least a second between runs.
    return max(seconds, 1.0)


def _expression(spec: str) -> str:
    expr = _DESCRIPTORS.get(spec.lower(), spec)
    fields = expr.split()
    if len(fields) == 5:
        expr = "0 " + expr  # 5 fields: minutes first, so fire at second 0
    elif len(fields) != 6:
        raise ConfigError(f"invalid schedule format {spec!r}: expected 5 or 6 fields, "
                          "a descriptor such as @daily, or @every <duration>", field="schedule")
    if not croniter.is_valid(expr, second_at_beginning=True):
        raise ConfigError(f"invalid schedule format {spec!r}", field="schedule")
    return expr


def _go_time(moment: datetime) -> str:
    """UTC time as Dapr's cron binding writes it (Go's time.String())."""
    utc = moment.astimezone(ZoneInfo("UTC"))
    return f"{utc:%Y-%m-%d %H:%M:%S.%f} +0000 UTC"


class CronBinding(InputBinding):
    type_name: ClassVar[str] = "bindings.cron"
    description: ClassVar[str] = ("Input binding that triggers the app on a schedule: cron "
                                  "(6 fields with seconds, or 5), @daily/@hourly..., @every 15s.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("schedule", required=True, description="when to fire: `*/30 * * * * *`, "
              "`0 30 4 * * *`, `CRON_TZ=Europe/Paris 0 0 8 * * 1-5`, `@hourly`, `@every 15s`"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.schedule: Schedule | None = None
        self._task: asyncio.Task[None] | None = None

    async def init(self) -> None:
        self.schedule = Schedule(str(self.meta["schedule"]))

    async def read(self, handler: InputHandler) -> None:
        assert self.schedule is not None, "init() first"
        self._task = asyncio.create_task(self._run(self.schedule, handler),
                                         name=f"cron {self.name}")

    async def _run(self, schedule: Schedule, handler: InputHandler) -> None:
        due = schedule.next_after(schedule.now())
        while True:
            await asyncio.sleep(max(0.0, (due - schedule.now()).total_seconds()))
            fired = schedule.now()
            meta = {"timeZone": schedule.zone_name, "readTimeUTC": _go_time(fired)}
            try:
                await handler(b"", meta)
            except Exception as exc:  # the app missed this tick; the next one still comes
                log.warning("cron %s: tick of %s not delivered: %s", self.name,
                            _go_time(fired), exc)
            # From now, not from the last due time: ticks missed meanwhile are skipped.
            due = schedule.next_after(max(schedule.now(), due))

    def status(self) -> dict[str, Any]:
        return {"schedule": self.schedule.text} if self.schedule else {}

    async def stop_reading(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        await self.stop_reading()
