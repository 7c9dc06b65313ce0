"""Pub/sub fixtures. Most tests share one sidecar and one subscriber app per
xdist worker, each test on topics of its own; tests about startup, files,
scopes and restarts start their own with `spawn`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Spawner
from tests.harness import Sidecar, free_port
from tests.pubsub.helpers import FAST, Subscriber, in_memory, write_docs

APP_ID = "subscriber"

# What the shared app subscribes to; the tests pick topics under these.
SHARED_SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"pubsubname": "bus", "topic": "rt/#", "route": "/rt"},
    {"pubsubname": "bus", "topic": "raw/#", "route": "/raw", "metadata": {"rawPayload": "true"}},
    {"pubsubname": "bus", "topic": "routed/#", "routes": {
        "rules": [{"match": 'event.type == "order.created"', "path": "/created"},
                  {"match": "event.data.priority > 5", "path": "/urgent"}],
        "default": "/other"}},
    {"pubsubname": "bus", "topic": "picky/#", "routes": {
        "rules": [{"match": 'event.type == "wanted"', "path": "/picky"}]}},
    {"pubsubname": "bus", "topic": "sensors/+/temp", "route": "/temp"},
    {"pubsubname": "bus", "topic": "retry/#", "route": "/retry", "deadLetterTopic": "dead"},
    {"pubsubname": "bus", "topic": "dead", "route": "/dead"},
    {"pubsubname": "limited", "topic": "lim/#", "route": "/lim", "deadLetterTopic": "dead-lim"},
    {"pubsubname": "limited", "topic": "dead-lim", "route": "/dead-lim"},
    {"pubsubname": "bus", "topic": "bulk/#", "route": "/bulk", "deadLetterTopic": "dead",
     "bulkSubscribe": {"enabled": True, "maxMessagesCount": 10, "maxAwaitDurationMs": 300}},
    {"pubsubname": "bus", "topic": "rawbulk/#", "route": "/rawbulk",
     "metadata": {"rawPayload": "true"}, "bulkSubscribe": {"enabled": True}},
]


@dataclass
class Shared:
    app: Subscriber
    sidecar: Sidecar
    http: httpx.Client


@pytest.fixture(scope="session")
def shared_pubsub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    workdir = tmp_path_factory.mktemp("pubsub")
    write_docs(workdir / "resources" / "pubsub.yaml",
               in_memory("bus", **FAST),
               in_memory("limited", backOffMaxRetries=2, **FAST),
               in_memory("small", maxMessageBytes=600))
    spawner = Spawner(workdir)
    app = Subscriber(workdir, SHARED_SUBSCRIPTIONS, port=free_port())
    spawner.track(app)
    sidecar = spawner.sidecar(APP_ID, workdir / "resources", app_port=app.port, wait="ready")
    with sidecar.client() as http:
        yield Shared(app, sidecar, http)
    spawner.close()


@pytest.fixture
def shared(shared_pubsub: Shared, request: pytest.FixtureRequest) -> Iterator[Shared]:
    yield shared_pubsub
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"----- {shared_pubsub.sidecar.log.name}\n{shared_pubsub.sidecar.output()}")
