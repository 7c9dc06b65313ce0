"""Helpers for the pubsub.mqtt3 tests: a handler that keeps what it gets, and waits
with a bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.components.pubsub.base import Message


class Inbox:
    """A subscription handler that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
        self._arrived.set()

    @property
    def payloads(self) -> list[str]:
        return [m.data.decode() for m in self.messages]

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[str]:
        """The payloads once at least `count` arrived; fails after `timeout`."""
        async def enough() -> None:
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.messages)} of {count} messages arrived in "
                                 f"{timeout}s: {self.payloads[:20]}...") from None
        return self.payloads

    async def quiet(self, seconds: float = 0.5) -> list[str]:
        """The payloads after nothing more arrived for `seconds` (to see extras)."""
        while True:
            before = len(self.messages)
            await asyncio.sleep(seconds)
            if len(self.messages) == before:
                return self.payloads


async def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.02)


def msg(topic: str, payload: str, **metadata: str) -> Message:
    return Message(topic, payload.encode(), dict(metadata))


def plain_receive(port: int, topic: str, timeout: float = 5.0) -> list[paho.MQTTMessage]:
    """What a plain MQTT client (no edge) subscribed to `topic` receives at once,
    retained messages included. Blocking: call it in a thread."""
    got: list[paho.MQTTMessage] = []
    arrived = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, 1)

    def on_message(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        got.append(message)
        arrived.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        arrived.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return got


class Batches:
    """A bulk subscription handler that keeps the batches it took; it raises for
    the calls numbered in `fail_calls` (0: the first) and never returns for those
    in `hang_calls`."""

    def __init__(self, fail_calls: tuple[int, ...] = (), hang_calls: tuple[int, ...] = ()) -> None:
        self.batches: list[list[Message]] = []
        self.offered: list[list[str]] = []  # every batch it was called with, failed ones too
        self.fail_calls = fail_calls
        self.hang_calls = hang_calls
        self._arrived = asyncio.Event()

    async def __call__(self, messages: list[Message]) -> None:
        call = len(self.offered)
        self.offered.append([m.data.decode() for m in messages])
        self._arrived.set()
        if call in self.fail_calls:
            raise RuntimeError("scripted failure")
        if call in self.hang_calls:
            await asyncio.Event().wait()
        self.batches.append(messages)
        self._arrived.set()

    @property
    def payloads(self) -> list[str]:
        return [m.data.decode() for batch in self.batches for m in batch]

    @property
    def sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[str]:
        """The payloads once at least `count` messages were taken; fails after `timeout`."""
        await self._wait(lambda: len(self.payloads) >= count, timeout,
                         f"{count} messages; {len(self.payloads)} taken")
        return self.payloads

    async def wait_offered(self, calls: int, timeout: float = 15.0) -> list[list[str]]:
        """The batches offered once the handler was called `calls` times."""
        await self._wait(lambda: len(self.offered) >= calls, timeout, f"{calls} calls")
        return self.offered

    async def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        async def enough() -> None:
            while not check():
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} in {timeout}s; batches offered: "
                                 f"{[len(b) for b in self.offered]}") from None

    async def quiet(self, seconds: float = 0.5) -> list[str]:
        while True:
            before = len(self.payloads)
            await asyncio.sleep(seconds)
            if len(self.payloads) == before:
                return self.payloads
