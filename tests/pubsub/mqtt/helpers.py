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
