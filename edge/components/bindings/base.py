"""The bindings interface, as components-contrib shapes it.

An input binding reads events from outside (a timer, a serial port, a
broker) and hands each one to the runtime's handler; an output binding is
invoked by the app with an operation. A component may be both; the
`direction` metadata narrows what the runtime uses, as in Dapr.

Device bindings (serial, GPIO, Modbus) read frames in a thread of their own.
They hand each frame to the event loop with
`asyncio.run_coroutine_threadsafe(handler(data, meta), loop).result()`, so
the reading thread waits for the app's acknowledgement: frames keep their
order and a slow app slows the reading instead of filling memory. They keep
a `LinkStatus` up to date and return `link.describe()` from `status()`, which
/v1.0/metadata shows."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edge.components.base import Component, ComponentContext
from edge.components.metadata import Field

INPUT = "input"
OUTPUT = "output"

# Declared by every binding (list them in `fields`); the runtime applies them.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("direction", description="input, output or both (comma-separated): what the "
          "binding is used for; an input binding with an explicit direction is started "
          "without asking the app (no OPTIONS probe)"),
    Field("route", description="the app's path that receives this input binding's events "
          "(default: /<binding name>)"),
)

# Called once per event, one at a time per binding (so order is kept).
# Returning means the app took the event; raising means it did not, and the
# component decides what that means for its source (drop, nack, redeliver).
InputHandler = Callable[[bytes, dict[str, str]], Awaitable[None]]


class BindingError(Exception):
    """An operation failed; the message is shown to the caller as is."""


@dataclass(slots=True)
class InvokeResponse:
    data: bytes = b""
    metadata: dict[str, str] = field(default_factory=dict)


def directions(meta: dict[str, Any]) -> set[str] | None:
    """The directions the `direction` metadata names; None when it is not set."""
    raw = next((v for k, v in meta.items() if k.lower() == "direction"), None)
    if not isinstance(raw, str) or not raw.strip():
        return None
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


class Binding(Component):
    block: ClassVar[str] = "bindings"

    def directions(self) -> set[str]:
        """What this binding may be used for: its abilities, narrowed by `direction`."""
        able = {d for cls, d in ((InputBinding, INPUT), (OutputBinding, OUTPUT))
                if isinstance(self, cls)}
        wanted = directions(self.meta)
        return able if wanted is None else able & wanted

    def features(self) -> list[str]:
        used = self.directions()
        names = {INPUT: InputBinding.feature, OUTPUT: OutputBinding.feature}
        dropped = {names[d] for d in names if d not in used}
        return [f for f in super().features() if f not in dropped]


class InputBinding(Binding):
    feature: ClassVar[str] = "INPUT_BINDING"

    @abstractmethod
    async def read(self, handler: InputHandler) -> None:
        """Start delivering events to `handler` and return."""

    @abstractmethod
    async def stop_reading(self) -> None:
        """Stop delivering (waiting for a delivery in flight); output stays usable
        until close(). Called before the sidecar stops; close() does it too."""


class DeviceInput(InputBinding):
    """The input side shared by device bindings (serial, Modbus): their reader
    calls `_handler` for each frame and keeps the delivery in `_delivering`
    (a Future of the event loop, or of another thread for a reading thread),
    which stop_reading() waits for."""

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self._handler: InputHandler | None = None
        self._delivering: asyncio.Future[None] | concurrent.futures.Future[None] | None = None

    async def read(self, handler: InputHandler) -> None:
        self._handler = handler

    async def stop_reading(self) -> None:
        self._handler = None
        delivering = self._delivering
        if delivering is None:
            return
        with contextlib.suppress(Exception):
            if isinstance(delivering, concurrent.futures.Future):
                await asyncio.wrap_future(delivering)
            else:
                # Shielded: the delivery belongs to the reader, not to the one stopping.
                await asyncio.shield(delivering)


class OutputBinding(Binding):
    feature: ClassVar[str] = "OUTPUT_BINDING"

    @abstractmethod
    def operations(self) -> list[str]:
        """The operations invoke() accepts."""

    @abstractmethod
    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        """Run one operation; None when there is nothing to answer (204).
        Raise BindingError with a message for the caller."""


@dataclass
class LinkStatus:
    """The state of a device binding's link, for status()."""

    state: str = "connecting"
    last_error: str = ""
    reconnects: int = 0
    since: float = field(default_factory=time.time)
    _was_up: bool = False

    def set(self, state: str, error: str = "") -> None:
        if state == "connected":
            # Counted so an operator sees a flapping link, not only its state now.
            self.reconnects += 1 if self._was_up else 0
            self._was_up = True
        self.state, self.since = state, time.time()
        if error:
            self.last_error = error

    def describe(self) -> dict[str, Any]:
        found: dict[str, Any] = {"state": self.state, "reconnects": self.reconnects}
        if self.last_error:
            found["lastError"] = self.last_error
        return found
