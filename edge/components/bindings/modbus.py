"""bindings.modbus: a Modbus TCP or RTU device as an input and output binding.

Input polls the registers named in `registers` every `pollInterval` and emits
one event per declared range whose values changed (the first poll emits every
range). Output `read` and `write` reach any coil or register on demand.

`registers` is a comma-separated list of `kind:address` or `kind:first-last`
(both ends included), kind being `coil`, `discrete`, `holding` or `input`:
`holding:0-3,coil:10,input:5,discrete:2-4`.

pymodbus's clients are asyncio, so unlike the serial binding no thread is
needed: one task keeps the link up and polls, and it awaits the app's
acknowledgement before polling on (order kept, a slow app slows the polling).
pymodbus's own reconnecting is turned off so that this task alone decides
when to retry, and the link status it reports is the truth."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge.components.base import ComponentContext
from edge.components.bindings.base import (
    COMMON_FIELDS,
    BindingError,
    DeviceInput,
    InvokeResponse,
    LinkStatus,
    OutputBinding,
)
from edge.components.bindings.serial import _PARITIES, _STOP_BITS, SerialBinding
from edge.components.metadata import Field, choice
from edge.errors import ConfigError

log = logging.getLogger("edge.components.bindings.modbus")

KINDS = ("coil", "discrete", "holding", "input")
WRITABLE = ("coil", "holding")
_BITS = ("coil", "discrete")
# The protocol's limits for one read request (bits, registers).
_MAX_COUNT = {"coil": 2000, "discrete": 2000, "holding": 125, "input": 125}
_RANGE = re.compile(r"^\s*(\w+)\s*:\s*(\d+)\s*(?:-\s*(\d+))?\s*$")
_SERIAL_FIELDS = ("baudRate", "dataBits", "parity", "stopBits")
_Client = AsyncModbusTcpClient | AsyncModbusSerialClient


@dataclass(frozen=True, slots=True)
class Range:
    kind: str
    address: int
    count: int


def parse_registers(text: str) -> list[Range]:
    """`holding:0-3,coil:10` as ranges; an empty text polls nothing."""
    ranges = []
    for part in (p for p in text.split(",") if p.strip()):
        match = _RANGE.match(part)
        if match is None:
            raise ConfigError(f"{part.strip()!r} is not kind:address or kind:first-last",
                              field="registers")
        kind, first = match.group(1).lower(), int(match.group(2))
        last = int(match.group(3) or first)
        ranges.append(_checked(kind, first, last - first + 1, "registers"))
    return ranges


def _checked(kind: str, address: int, count: int, field: str) -> Range:
    if kind not in KINDS:
        raise ConfigError(f"{kind!r} is not one of {', '.join(KINDS)}", field=field)
    if not 0 <= address <= 0xFFFF or not 1 <= count <= _MAX_COUNT[kind]:
        raise ConfigError(f"{kind} {address} count {count}: address must be 0-65535 and "
                          f"count 1-{_MAX_COUNT[kind]}", field=field)
    return Range(kind, address, count)


def _request(data: bytes, metadata: dict[str, str]) -> dict[str, Any]:
    """An operation's arguments: request metadata, overridden by a JSON object in data."""
    args: dict[str, Any] = dict(metadata)
    if data.strip():
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise BindingError(f"data is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BindingError("data must be a JSON object")
        args.update(body)
    return args


def _int(args: dict[str, Any], name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BindingError(f"{name} must be an integer, not {value!r}") from None


def _values(args: dict[str, Any], kind: str) -> list[int] | list[bool]:
    raw = args.get("values", args.get("value"))
    if isinstance(raw, str):  # from request metadata, which is text
        with contextlib.suppress(ValueError):
            raw = json.loads(raw)
    items = raw if isinstance(raw, list) else [raw]
    if not items or any(not isinstance(v, (int, bool)) for v in items):
        raise BindingError("values must be a list of integers (or booleans for coils)")
    if kind == "coil":
        return [bool(v) for v in items]
    if any(not 0 <= v <= 0xFFFF for v in items):
        raise BindingError("holding register values must be 0-65535")
    return [int(v) for v in items]


class ModbusBinding(DeviceInput, OutputBinding):
    type_name: ClassVar[str] = "bindings.modbus"
    description: ClassVar[str] = ("Modbus TCP or RTU device: polled registers that change are "
                                  "input events; output operations read and write.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("mode", default="tcp", description="tcp or rtu"),
        Field("host", description="the device's address (tcp)"),
        Field("port", description="TCP port (tcp, default 502), or the serial device "
              "such as /dev/ttyUSB0 (rtu)"),
        *(f for f in SerialBinding.fields if f.name in _SERIAL_FIELDS),
        Field("unitId", "int", 1, description="the device's unit (slave) id"),
        Field("timeout", "duration", 1.0, description="how long one request waits"),
        Field("reconnectInterval", "duration", 2.0, description="how often a device that "
              "is down is tried again"),
        Field("pollInterval", "duration", 1.0, description="how often `registers` are read"),
        Field("registers", default="", description="what input polls: comma-separated "
              "kind:address or kind:first-last, kind coil, discrete, holding or input "
              "(example: holding:0-3,coil:10)"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.link = LinkStatus()
        self.target = ""
        self._client: _Client | None = None
        self._last: dict[Range, list[int] | list[bool]] = {}
        self._task: asyncio.Task[None] | None = None
        # One request at a time: RTU is a shared line, and a TCP device
        # often serves one request at a time anyway.
        self._lock = asyncio.Lock()

    # -- configuration

    async def init(self) -> None:
        self.mode = choice(self.meta, "mode", ("tcp", "rtu"))
        self.ranges = parse_registers(str(self.meta["registers"] or ""))
        self.timeout = max(float(self.meta["timeout"]), 0.001)
        self.interval = max(float(self.meta["reconnectInterval"]), 0.05)
        self.poll = max(float(self.meta["pollInterval"]), 0.01)
        self.unit = int(self.meta["unitId"])
        self._client = self._tcp() if self.mode == "tcp" else self._rtu()
        # Started even when the device is down: it may come up later.
        self._task = asyncio.create_task(self._run(), name=f"modbus {self.name}")

    def _tcp(self) -> AsyncModbusTcpClient:
        host = str(self.meta.get("host") or "")
        if not host:
            raise ConfigError("required metadata is missing (mode tcp)", field="host")
        try:
            port = int(self.meta.get("port") or 502)
        except ValueError:
            raise ConfigError("must be a TCP port number (mode tcp)", field="port") from None
        self.target = f"{host}:{port}"
        return AsyncModbusTcpClient(host, port=port, timeout=self.timeout, retries=0,
                                    reconnect_delay=0)

    def _rtu(self) -> AsyncModbusSerialClient:
        self.target = str(self.meta.get("port") or "")
        if not self.target:
            raise ConfigError("required metadata is missing (mode rtu)", field="port")
        if self.meta["dataBits"] not in (5, 6, 7, 8):
            raise ConfigError("must be 5, 6, 7 or 8", field="dataBits")
        return AsyncModbusSerialClient(
            self.target, baudrate=self.meta["baudRate"], bytesize=self.meta["dataBits"],
            parity=choice(self.meta, "parity", _PARITIES),
            stopbits=choice(self.meta, "stopBits", _STOP_BITS),
            timeout=self.timeout, retries=0, reconnect_delay=0)

    # -- the link and polling task

    async def _run(self) -> None:
        while True:
            if not await self._ensure_connected():
                await asyncio.sleep(self.interval)
                continue
            if self._handler is not None and self.ranges:
                await self._poll_once()
            await asyncio.sleep(self.poll)

    async def _ensure_connected(self) -> bool:
        client = self._client
        assert client is not None
        if client.connected:
            return True
        if await client.connect():
            self.link.set("connected")
            log.info("modbus %s: connected to %s", self.name, self.target)
            return True
        if self.link.state != "disconnected" or not self.link.last_error:
            log.warning("modbus %s: cannot connect to %s; retrying every %gs", self.name,
                        self.target, self.interval)
        self.link.set("disconnected", f"cannot connect to {self.target}")
        return False

    async def _poll_once(self) -> None:
        for rng in self.ranges:
            try:
                values = await self._read(rng)
            except BindingError as exc:  # one bad range must not stop the others
                log.warning("modbus %s: polling %s %d failed: %s", self.name, rng.kind,
                            rng.address, exc)
                continue
            if self._last.get(rng) != values:
                self._last[rng] = values
                await self._emit(rng, values)

    async def _emit(self, rng: Range, values: list[int] | list[bool]) -> None:
        handler = self._handler
        if handler is None:
            return
        body = json.dumps({"kind": rng.kind, "address": rng.address, "values": values})
        meta = {"kind": rng.kind, "address": str(rng.address)}
        self._delivering = asyncio.ensure_future(handler(body.encode(), meta))
        try:
            await self._delivering
        except Exception as exc:  # the app refused it; polling goes on
            log.warning("modbus %s: event not delivered: %s", self.name, exc)

    # -- requests

    async def _read(self, rng: Range) -> list[int] | list[bool]:
        client = self._connected()
        call = {"coil": client.read_coils, "discrete": client.read_discrete_inputs,
                "holding": client.read_holding_registers,
                "input": client.read_input_registers}[rng.kind]
        reply = await self._execute(call(rng.address, count=rng.count, device_id=self.unit))
        # Bit replies are padded to whole bytes; only the asked-for bits count.
        return list(reply.bits[:rng.count]) if rng.kind in _BITS else list(reply.registers)

    async def _write(self, kind: str, address: int, values: list[int] | list[bool]) -> None:
        client = self._connected()
        if kind == "coil":
            request = client.write_coils(address, [bool(v) for v in values], device_id=self.unit)
        else:
            request = client.write_registers(address, [int(v) for v in values],
                                             device_id=self.unit)
        await self._execute(request)

    def _connected(self) -> _Client:
        client = self._client
        if client is None or not client.connected:
            error = f": {self.link.last_error}" if self.link.last_error else ""
            raise BindingError(f"modbus device {self.target} is not connected{error}")
        return client

    async def _execute(self, request: Any) -> Any:
        async with self._lock:
            try:
                reply = await request
            except ModbusException as exc:
                self._lost(exc)
                raise BindingError(f"modbus device {self.target}: {exc}") from None
        if reply.isError():
            # An exception reply (bad address...) comes from a live device.
            raise BindingError(f"modbus device {self.target} refused the request: {reply}")
        return reply

    def _lost(self, exc: Exception) -> None:
        """No answer: close, so the task reconnects instead of timing out on every poll."""
        log.warning("modbus %s: %s lost: %s", self.name, self.target, exc)
        self.link.set("disconnected", str(exc))
        if self._client is not None:
            self._client.close()

    # -- output

    def operations(self) -> list[str]:
        return ["read", "write"]

    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        args = _request(data, metadata)
        kind = str(args.get("kind", "")).lower()
        if operation == "write":
            if kind not in WRITABLE:
                raise BindingError(f"kind must be one of {', '.join(WRITABLE)} to write")
            values = _values(args, kind)
            rng = self._range(kind, _int(args, "address"), len(values))
            await self._write(rng.kind, rng.address, values)
            return None
        rng = self._range(kind, _int(args, "address"), _int(args, "count", 1))
        found = {"kind": rng.kind, "address": rng.address, "values": await self._read(rng)}
        return InvokeResponse(json.dumps(found).encode(),
                              {"kind": rng.kind, "address": str(rng.address)})

    @staticmethod
    def _range(kind: str, address: int, count: int) -> Range:
        try:
            return _checked(kind, address, count, "request")
        except ConfigError as exc:
            raise BindingError(exc.reason) from None

    # -- lifecycle

    def status(self) -> dict[str, Any]:
        return {"connected": self.link.state == "connected", "target": self.target,
                **self.link.describe()}

    async def close(self) -> None:
        await self.stop_reading()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            self._client.close()
