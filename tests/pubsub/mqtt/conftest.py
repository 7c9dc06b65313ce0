"""Fixtures for pubsub.mqtt3: a real Mosquitto per test, and components
driven directly, each with its own edge home (so its own outbox)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.components.base import ComponentContext
from edge.components.metadata import parse_metadata
from edge.components.pubsub.mqtt3 import MqttPubSub
from tests.brokers import INSTALL_HINT, Mosquitto, mosquitto_binary

BrokerFactory = Callable[..., Mosquitto]
PubSubFactory = Callable[..., Awaitable[MqttPubSub]]


@pytest.fixture
def brokers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BrokerFactory]:
    """Starts brokers for one test (keyword arguments as Mosquitto's) and stops them after."""
    if mosquitto_binary() is None:
        pytest.fail(INSTALL_HINT)
    started: list[Mosquitto] = []
    numbers = itertools.count(1)

    def start(**kwargs: Any) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"broker-{next(numbers)}", **kwargs)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for broker in started:
            print(f"----- {broker.log}\n{broker.output()}")


@pytest.fixture
def broker(brokers: BrokerFactory) -> Mosquitto:
    return brokers()


@pytest.fixture
async def pubsubs(tmp_path: Path) -> AsyncIterator[PubSubFactory]:
    """Makes and starts pubsub.mqtt3 components; all are closed after the test.
    `home` names the edge home (one per sidecar); metadata values as in YAML."""
    made: list[MqttPubSub] = []

    async def make(url: str, *, home: str = "home", app_id: str = "app", name: str = "mqtt",
                   **metadata: Any) -> MqttPubSub:
        ctx = ComponentContext(app_id=app_id, namespace="", home=tmp_path / home)
        raw = {"url": url, **{key: str(value) for key, value in metadata.items()}}
        component = MqttPubSub(name, parse_metadata(MqttPubSub.fields, raw), ctx)
        made.append(component)
        await asyncio.wait_for(component.init(), 10)
        return component

    yield make
    for component in reversed(made):
        await asyncio.wait_for(component.close(), 15)
