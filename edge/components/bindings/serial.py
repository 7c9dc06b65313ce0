"""bindings.serial: a serial port (UART, USB adapter) as an input and output binding.

Bytes read are cut into frames, by a delimiter or by a fixed length; each
frame becomes one input event. Output `write` sends bytes, `query` sends
bytes and answers with the next frame. The port is read by a thread of its
own, as base.py describes for device bindings: pyserial's API is blocking,
and a thread also waits for the app's acknowledgement before reading on, so
a slow app slows the reading instead of filling memory (loop.add_reader on
the fd would have to buffer frames, and it only works for POSIX ttys).

When the device disappears (USB unplugged) the thread marks the link down
and tries to reopen the port every `reconnectInterval`; the sidecar stays up."""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import concurrent.futures
import json
import logging
import os
import threading
from typing import Any, ClassVar

import serial

from edge.components.base import ComponentContext
from edge.components.bindings.base import (
    COMMON_FIELDS,
    BindingError,
    DeviceInput,
    InvokeResponse,
    LinkStatus,
    OutputBinding,
)
from edge.components.metadata import Field, choice
from edge.errors import ConfigError

log = logging.getLogger("edge.components.bindings.serial")

_PARITIES = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN, "odd": serial.PARITY_ODD,
             "mark": serial.PARITY_MARK, "space": serial.PARITY_SPACE}
_STOP_BITS = {"1": serial.STOPBITS_ONE, "1.5": serial.STOPBITS_ONE_POINT_FIVE,
              "2": serial.STOPBITS_TWO}
_ENCODINGS = ("utf-8", "hex", "base64")
# How long a read waits, so the thread notices close() without a signal.
_POLL = 0.1
# A device that never sends the delimiter must not grow the buffer forever.
_MAX_FRAME = 64 * 1024


class Framer:
    """Cuts a byte stream into frames: by delimiter, or by fixed length."""

    def __init__(self, delimiter: bytes, length: int) -> None:
        self.delimiter, self.length = delimiter, length
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        frames = self._by_length() if self.length else self._by_delimiter()
        if len(self.buffer) > _MAX_FRAME:
            log.warning("serial: %d bytes without a frame end dropped", len(self.buffer))
            self.buffer.clear()
        return frames

    def _by_length(self) -> list[bytes]:
        frames = []
        while len(self.buffer) >= self.length:
            frames.append(bytes(self.buffer[:self.length]))
            del self.buffer[:self.length]
        return frames

    def _by_delimiter(self) -> list[bytes]:
        *frames, rest = bytes(self.buffer).split(self.delimiter)
        self.buffer = bytearray(rest)
        # Empty frames (a blank line, "\r\n\r\n") carry nothing for the app.
        return [f for f in frames if f]

    def drop(self) -> bytes:
        partial, self.buffer = bytes(self.buffer), bytearray()
        return partial


def _delimiter(text: str) -> bytes:
    """`\\r\\n` as written in YAML becomes CR LF; other bytes are kept."""
    try:
        found = codecs.decode(text, "unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as exc:
        raise ConfigError(f"invalid delimiter {text!r}: {exc}", field="delimiter") from None
    if not found:
        raise ConfigError("the delimiter must not be empty", field="delimiter")
    return found


def _unquote(data: bytes) -> bytes:
    """The API hands data JSON-encoded: a JSON string is unquoted, as
    localstorage does; anything else (a number, an object) is sent as JSON."""
    try:
        value = json.loads(data)
    except ValueError:
        return data
    return value.encode() if isinstance(value, str) else data


class SerialBinding(DeviceInput, OutputBinding):
    type_name: ClassVar[str] = "bindings.serial"
    description: ClassVar[str] = ("Serial port (UART, USB adapter): each frame read is an "
                                  "input event; output operations write and query.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("port", required=True, description="the device: /dev/ttyUSB0, or better a "
              "stable /dev/serial/by-id/... link"),
        Field("baudRate", "int", 9600, description="line speed"),
        Field("dataBits", "int", 8, description="5, 6, 7 or 8"),
        Field("parity", default="none", description="none, even, odd, mark or space"),
        Field("stopBits", default="1", description="1, 1.5 or 2"),
        Field("rtscts", "bool", False, description="RTS/CTS hardware flow control"),
        Field("delimiter", description="frame end, with escapes such as `\\r\\n` "
              "(default `\\n`); not part of the event, appended to written data"),
        Field("frameLength", "int", 0, description="fixed frame size in bytes, instead of "
              "a delimiter"),
        Field("encoding", default="utf-8", description="how frame bytes become the event "
              "body and output data becomes bytes: utf-8, hex or base64"),
        Field("timeout", "duration", 1.0, description="how long query waits for the answer"),
        Field("reconnectInterval", "duration", 2.0, description="how often a missing port "
              "is tried again"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.port_name = str(meta.get("port") or "")
        self.link = LinkStatus()
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()  # the pending query, shared with the thread
        self._query: concurrent.futures.Future[bytes] | None = None
        self._write_lock = asyncio.Lock()
        self._query_lock = asyncio.Lock()

    # -- configuration

    async def init(self) -> None:
        self._configure()
        self._loop = asyncio.get_running_loop()
        # Started even when the port is missing: a device may be plugged in later.
        self._thread = threading.Thread(target=self._run, name=f"serial {self.name}",
                                        daemon=True)
        self._thread.start()

    def _configure(self) -> None:
        meta = self.meta
        self.parity = choice(meta, "parity", _PARITIES)
        self.stop_bits = choice(meta, "stopBits", _STOP_BITS)
        self.encoding = choice(meta, "encoding", _ENCODINGS)
        if meta["dataBits"] not in (5, 6, 7, 8):
            raise ConfigError("must be 5, 6, 7 or 8", field="dataBits")
        if meta["baudRate"] <= 0 or meta["frameLength"] < 0:
            raise ConfigError("must be positive", field="baudRate" if meta["baudRate"] <= 0
                              else "frameLength")
        if meta["frameLength"] and meta["delimiter"] is not None:
            raise ConfigError("set either delimiter or frameLength, not both", field="delimiter")
        self.delimiter = b"" if meta["frameLength"] else _delimiter(meta["delimiter"] or "\\n")
        self.timeout = max(float(meta["timeout"]), 0.001)
        self.interval = max(float(meta["reconnectInterval"]), 0.05)

    # -- the reading thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            port = self._open()
            if port is None:
                self._stopping.wait(self.interval)
                continue
            try:
                self._read(port)
            finally:
                with self._guard:
                    self._serial = None
                port.close()

    def _open(self) -> serial.Serial | None:
        try:
            # exclusive: a second process on the same port would steal frames.
            port = serial.Serial(self.port_name, self.meta["baudRate"], self.meta["dataBits"],
                                 self.parity, self.stop_bits, timeout=_POLL,
                                 rtscts=self.meta["rtscts"], write_timeout=self.timeout,
                                 exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            if self.link.state != "disconnected" or not self.link.last_error:
                log.warning("serial %s: cannot open %s: %s", self.name, self.port_name, exc)
            self.link.set("disconnected", str(exc))
            return None
        with self._guard:
            self._serial = port
        self.link.set("connected")
        log.info("serial %s: %s open (%s)", self.name, self.port_name,
                 os.path.realpath(self.port_name))
        return port

    def _read(self, port: serial.Serial) -> None:
        framer = Framer(self.delimiter, int(self.meta["frameLength"]))
        while not self._stopping.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                self._lost(framer, exc)
                return
            for frame in framer.feed(data):
                self._dispatch(frame)

    def _lost(self, framer: Framer, exc: Exception) -> None:
        log.warning("serial %s: %s lost: %s; retrying every %gs", self.name, self.port_name,
                    exc, self.interval)
        partial = framer.drop()
        if partial:
            log.warning("serial %s: partial frame of %d bytes dropped", self.name, len(partial))
        self.link.set("disconnected", str(exc))

    def _dispatch(self, frame: bytes) -> None:
        """A pending query takes the frame; otherwise it is an input event."""
        with self._guard:
            query, self._query = self._query, None
        if query is not None and not query.done():
            query.set_result(frame)
            return
        handler, loop = self._handler, self._loop
        if handler is None or loop is None:
            log.debug("serial %s: frame of %d bytes not read by anyone", self.name, len(frame))
            return
        meta = {"port": self.port_name}
        self._delivering = asyncio.run_coroutine_threadsafe(handler(self._encode(frame), meta),
                                                            loop)
        try:
            self._delivering.result()
        except Exception as exc:  # the app refused it; the next frame still comes
            log.warning("serial %s: frame not delivered: %s", self.name, exc)

    # -- encoding

    def _encode(self, frame: bytes) -> bytes:
        if self.encoding == "hex":
            return frame.hex().encode()
        if self.encoding == "base64":
            return base64.b64encode(frame)
        return frame

    def _decode(self, data: bytes) -> bytes:
        text = _unquote(data)
        try:
            if self.encoding == "hex":
                return bytes.fromhex(text.decode())
            if self.encoding == "base64":
                return base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise BindingError(f"data is not valid {self.encoding}: {exc}") from None
        return text

    # -- output

    def operations(self) -> list[str]:
        return ["write", "query"]

    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        payload = self._decode(data) + self.delimiter
        if operation == "write":
            await self._write(payload)
            return None
        return InvokeResponse(self._encode(await self._ask(payload)))

    async def _write(self, payload: bytes) -> None:
        async with self._write_lock:
            with self._guard:
                port = self._serial
            if port is None:
                raise BindingError(f"serial port {self.port_name} is not connected"
                                   f"{': ' + self.link.last_error if self.link.last_error else ''}")
            try:
                await asyncio.to_thread(port.write, payload)
            except (serial.SerialException, OSError) as exc:
                raise BindingError(f"writing to {self.port_name} failed: {exc}") from None

    async def _ask(self, payload: bytes) -> bytes:
        # One query at a time: the device's answers are not tagged, so only
        # order tells which answer belongs to which question.
        async with self._query_lock:
            answer: concurrent.futures.Future[bytes] = concurrent.futures.Future()
            with self._guard:  # armed before writing, so a quick answer is not missed
                self._query = answer
            try:
                await self._write(payload)
                return await asyncio.wait_for(asyncio.wrap_future(answer), self.timeout)
            except TimeoutError:
                raise BindingError(f"no answer from {self.port_name} within "
                                   f"{self.timeout:g}s") from None
            finally:
                with self._guard:
                    if self._query is answer:
                        self._query = None

    # -- lifecycle

    def status(self) -> dict[str, Any]:
        return {"connected": self.link.state == "connected", "port": self.port_name,
                **self.link.describe()}

    async def close(self) -> None:
        await self.stop_reading()
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            # The thread closes the port (releasing its lines) when it ends.
            await asyncio.to_thread(thread.join, 5.0)
