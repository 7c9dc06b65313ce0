"""bindings.gpio: lines of a GPIO chip, through the Linux GPIO character
device (uAPI v2) and libgpiod 2.x's Python binding, `gpiod`.

A binding holds one request for its `lines`, all set up alike. With
`direction: output` they are driven (operations set, get, pulse); otherwise
they are inputs whose edges become input events (and `get` reads them).
A button and a relay are two components, as they are two wirings.

Edge events come from the kernel with its own timestamps. The request's file
descriptor goes to the event loop (`add_reader`), so no thread is needed; the
events read are queued and delivered to the app one at a time, in order.
The ioctls that set or read a line are quick on a SoC's own pins but may
sleep on an I2C expander, so they run in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from edge.components.base import ComponentContext
from edge.components.bindings.base import (
    COMMON_FIELDS,
    OUTPUT,
    BindingError,
    InputBinding,
    InputHandler,
    InvokeResponse,
    OutputBinding,
    directions,
)
from edge.components.metadata import Field, choice, parse_bool, parse_duration
from edge.errors import ConfigError

if TYPE_CHECKING:
    import gpiod

log = logging.getLogger("edge.components.bindings.gpio")

_EDGES = ("both", "rising", "falling", "none")
_BIASES = ("as-is", "pull-up", "pull-down", "disabled")
_CLOCKS = ("realtime", "monotonic")
# Events read but not yet taken by the app; beyond this they are counted and dropped
# (a stuck app must not grow memory; the kernel's own buffer is smaller still).
_QUEUE = 1024
_LONGEST_PULSE = 3600.0


def _line_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise ConfigError("name at least one line (offsets or line names, comma-separated)",
                          field="lines")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"a line is listed twice in {text!r}", field="lines")
    return ids


def find_chip(spec: str) -> str:
    """The device path of a chip given as a path, a device name or a label."""
    import gpiod

    spec = spec.strip()
    candidates = [spec, f"/dev/{spec}"]
    for path in candidates:
        with contextlib.suppress(OSError):
            if gpiod.is_gpiochip_device(path):
                return path
    found = []
    for path in sorted(glob.glob("/dev/gpiochip*")):
        with contextlib.suppress(OSError), gpiod.Chip(path) as chip:
            label = chip.get_info().label
            if label == spec:
                return path
            found.append(f"{path} ({label})")
    here = ", ".join(found) or "none (is the GPIO character device enabled?)"
    raise ConfigError(f"no GPIO chip {spec!r}; chips here: {here}", field="chip")


def _parse_value(text: str) -> int:
    low = text.strip().lower()
    if low in ("high", "active"):
        return 1
    if low in ("low", "inactive"):
        return 0
    try:
        return int(parse_bool(low))
    except ValueError:
        raise BindingError(f"{text!r} is not a line value (1, 0, true, false)") from None


class GpioBinding(InputBinding, OutputBinding):
    type_name: ClassVar[str] = "bindings.gpio"
    description: ClassVar[str] = ("GPIO lines through the Linux GPIO character device: edges "
                                  "of input lines are input events; output operations set, "
                                  "get and pulse.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("chip", required=True, description="the chip: /dev/gpiochip0, gpiochip0, or its "
              "label (pinctrl-bcm2711 on a Pi 4, pinctrl-rp1 on a Pi 5)"),
        Field("lines", required=True, description="comma-separated line offsets or line "
              "names (GPIO17); events and answers name each line as written here"),
        Field("edge", default="both", description="input edges that make events: both, "
              "rising, falling or none"),
        Field("bias", default="as-is", description="pull-up, pull-down, disabled or as-is"),
        Field("debounce", "duration", 0.0, description="input debounce period, done by the "
              "kernel (e.g. 10ms)"),
        Field("activeLow", "bool", False, description="the line is active when low: values "
              "and edges are then the inverse of the pin level"),
        Field("initialValue", "int", 0, description="an output line's value when the binding "
              "starts (0 or 1)"),
        Field("eventClock", default="realtime", description="the clock of event timestamps: "
              "realtime (nanoseconds since the epoch) or monotonic"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.ids = _line_ids(str(meta.get("lines") or ""))
        self.output = (directions(meta) or set()) == {OUTPUT}
        self.path = ""
        self.offsets: dict[str, int] = {}
        self._request: gpiod.LineRequest | None = None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE)
        self._delivery: asyncio.Task[None] | None = None
        self._locks: dict[int, asyncio.Lock] = {}
        self._counts = {"events": 0, "dropped": 0, "missed": 0}
        self._seqno: dict[int, int] = {}

    # -- configuration

    async def init(self) -> None:
        self._check()
        self.path = await asyncio.to_thread(find_chip, str(self.meta["chip"]))
        self._request = await asyncio.to_thread(self._request_lines)
        self._locks = {offset: asyncio.Lock() for offset in self.offsets.values()}
        log.info("gpio %s: %s lines %s as %s", self.name, self.path,
                 ", ".join(f"{i}={o}" for i, o in self.offsets.items()),
                 "outputs" if self.output else "inputs")

    def _check(self) -> None:
        for name, words in (("edge", _EDGES), ("bias", _BIASES), ("eventClock", _CLOCKS)):
            choice(self.meta, name, words)
        if self.meta["debounce"] < 0:
            raise ConfigError("must not be negative", field="debounce")
        if self.meta["initialValue"] not in (0, 1):
            raise ConfigError("must be 0 or 1", field="initialValue")

    def _request_lines(self) -> gpiod.LineRequest:
        import gpiod

        with gpiod.Chip(self.path) as chip:
            self.offsets = {line_id: self._offset(chip, line_id) for line_id in self.ids}
            for line_id, offset in self.offsets.items():
                info = chip.get_line_info(offset)
                if info.used:
                    raise ConfigError(f"line {line_id} of {self.path} is in use by "
                                      f"{info.consumer or 'the kernel'!r}", field="lines")
            try:
                return chip.request_lines(config={tuple(self.offsets.values()): self._settings()},
                                          consumer=f"edge:{self.name}")
            except OSError as exc:
                raise ConfigError(f"cannot request lines {', '.join(self.ids)} of "
                                  f"{self.path}: {exc}", field="lines") from None

    def _offset(self, chip: gpiod.Chip, line_id: str) -> int:
        count = chip.get_info().num_lines
        if line_id.isdigit():
            if int(line_id) >= count:
                raise ConfigError(f"{self.path} has lines 0 to {count - 1}, not {line_id}",
                                  field="lines")
            return int(line_id)
        try:
            return chip.line_offset_from_id(line_id)
        except (OSError, ValueError):
            raise ConfigError(f"{self.path} has no line named {line_id!r}",
                              field="lines") from None

    def _settings(self) -> gpiod.LineSettings:
        import gpiod
        from gpiod.line import Bias, Clock, Direction, Edge, Value

        meta = self.meta
        common: dict[str, Any] = {
            "active_low": bool(meta["activeLow"]),
            "bias": choice(meta, "bias", {"as-is": Bias.AS_IS, "pull-up": Bias.PULL_UP,
                                          "pull-down": Bias.PULL_DOWN,
                                          "disabled": Bias.DISABLED}),
        }
        if self.output:
            return gpiod.LineSettings(direction=Direction.OUTPUT, **common,
                                      output_value=Value(int(meta["initialValue"])))
        edge = choice(meta, "edge", {"both": Edge.BOTH, "rising": Edge.RISING,
                                     "falling": Edge.FALLING, "none": Edge.NONE})
        clock = choice(meta, "eventClock", {"realtime": Clock.REALTIME,
                                            "monotonic": Clock.MONOTONIC})
        return gpiod.LineSettings(direction=Direction.INPUT, edge_detection=edge,
                                  debounce_period=timedelta(seconds=float(meta["debounce"])),
                                  event_clock=clock, **common)

    # -- input

    async def read(self, handler: InputHandler) -> None:
        request = self._request
        if request is None or self.output:
            return
        self._delivery = asyncio.create_task(self._deliver(handler), name=f"gpio {self.name}")
        asyncio.get_running_loop().add_reader(request.fd, self._on_events, request)

    def _on_events(self, request: gpiod.LineRequest) -> None:
        # Called when the fd is readable, so this read does not wait.
        try:
            events = request.read_edge_events()
        except OSError as exc:
            log.error("gpio %s: reading events failed: %s", self.name, exc)
            return
        for event in events:
            self._count_gap(event.line_offset, event.line_seqno)
            try:
                self._queue.put_nowait(self._event(event))
            except asyncio.QueueFull:
                self._counts["dropped"] += 1
                log.warning("gpio %s: the app is not keeping up; an event was dropped",
                            self.name)

    def _count_gap(self, offset: int, seqno: int) -> None:
        # The kernel numbers each line's events; a gap means its buffer overflowed.
        last = self._seqno.get(offset)
        if last is not None and seqno > last + 1:
            self._counts["missed"] += seqno - last - 1
            log.warning("gpio %s: the kernel lost %d events of line %d", self.name,
                        seqno - last - 1, offset)
        self._seqno[offset] = seqno

    def _event(self, event: gpiod.EdgeEvent) -> dict[str, Any]:
        rising = event.event_type == event.Type.RISING_EDGE
        line = next(i for i, o in self.offsets.items() if o == event.line_offset)
        return {"line": line, "offset": event.line_offset,
                "edge": "rising" if rising else "falling", "value": int(rising),
                "timestamp": event.timestamp_ns, "seqno": event.line_seqno}

    async def _deliver(self, handler: InputHandler) -> None:
        while True:
            event = await self._queue.get()
            self._counts["events"] += 1
            meta = {"line": event["line"], "edge": event["edge"],
                    "timestamp": str(event["timestamp"])}
            try:
                await handler(json.dumps(event).encode(), meta)
            except Exception as exc:  # the app refused it; the next edge still goes
                log.warning("gpio %s: event not delivered: %s", self.name, exc)

    async def stop_reading(self) -> None:
        request = self._request
        if request is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(request.fd)
        task, self._delivery = self._delivery, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- output

    def operations(self) -> list[str]:
        return ["set", "get", "pulse"] if self.output else ["get"]

    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        if operation == "get":
            return await self._get(metadata)
        offset = self._target(metadata)
        if operation == "set":
            value = self._value(data, metadata)
            async with self._locks[offset]:
                await self._set(offset, value)
            return None
        duration = self._duration(metadata)
        value = self._value(data, metadata) if data or "value" in metadata else 1
        # One pulse at a time per line: two overlapping ones would end each other early.
        async with self._locks[offset]:
            await self._set(offset, value)
            try:
                await asyncio.sleep(duration)
            finally:
                await self._set(offset, 1 - value)
        return None

    def _target(self, metadata: dict[str, str]) -> int:
        line = metadata.get("line", "").strip()
        if not line:
            if len(self.offsets) == 1:
                return next(iter(self.offsets.values()))
            raise BindingError(f"say which line in metadata.line: one of {', '.join(self.ids)}")
        if line not in self.offsets:
            raise BindingError(f"line {line!r} is not one of this binding's lines "
                               f"({', '.join(self.ids)})")
        return self.offsets[line]

    def _value(self, data: bytes, metadata: dict[str, str]) -> int:
        if "value" in metadata:
            return _parse_value(metadata["value"])
        try:
            value = json.loads(data) if data else None
        except ValueError:
            value = data.decode(errors="replace")
        if isinstance(value, bool) or value in (0, 1):
            return int(value)
        if isinstance(value, str):
            return _parse_value(value)
        raise BindingError("give the value as data (1, 0, true or false) or metadata.value")

    @staticmethod
    def _duration(metadata: dict[str, str]) -> float:
        try:
            seconds = parse_duration(metadata.get("duration", "100ms"))
        except ValueError as exc:
            raise BindingError(f"metadata.duration: {exc}") from None
        if not 0 < seconds <= _LONGEST_PULSE:
            raise BindingError(f"metadata.duration must be above 0 and at most "
                               f"{_LONGEST_PULSE:g}s")
        return seconds

    async def _set(self, offset: int, value: int) -> None:
        from gpiod.line import Value

        request = self._live()
        await asyncio.to_thread(request.set_value, offset, Value(value))

    async def _get(self, metadata: dict[str, str]) -> InvokeResponse:
        request = self._live()
        wanted = ([self._target(metadata)] if metadata.get("line", "").strip()
                  else list(self.offsets.values()))
        values = await asyncio.to_thread(request.get_values, wanted)
        names = {o: i for i, o in self.offsets.items()}
        body = {names[o]: int(v.value) for o, v in zip(wanted, values, strict=True)}
        return InvokeResponse(json.dumps(body).encode())

    def _live(self) -> gpiod.LineRequest:
        if self._request is None:
            raise BindingError(f"the lines of {self.name} are released")
        return self._request

    # -- lifecycle

    def status(self) -> dict[str, Any]:
        return {"chip": self.path, "lines": self.offsets,
                "mode": "output" if self.output else "input", **self._counts}

    async def close(self) -> None:
        await self.stop_reading()
        request, self._request = self._request, None
        if request is not None:
            # Released so another program (or the next start) can take the lines.
            await asyncio.to_thread(request.release)
