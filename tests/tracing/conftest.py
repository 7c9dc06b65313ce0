"""Tracing fixtures: a Zipkin collector in the test process, and the
Configuration file that points sidecars at it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.harness import free_port, wait_until

HEX = set("0123456789abcdef")
KINDS = {"CLIENT", "SERVER", "PRODUCER", "CONSUMER"}


class Collector:
    """A real HTTP server taking Zipkin v2 spans at POST /api/v2/spans."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v2/spans"
        self.spans: list[dict[str, Any]] = []
        self.posts = 0
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert isinstance(body, list), body
        with self._lock:
            self.posts += 1
            self.spans.extend(body)
        return web.Response(status=202)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/api/v2/spans", self._take)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def wait_for(self, trace_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return wait_until(lambda: len(self.trace(trace_id)) >= count and self.trace(trace_id),
                          timeout, lambda: f"{count} spans of trace {trace_id}; got "
                          f"{self.trace(trace_id)}")


def check_zipkin(span: dict[str, Any]) -> None:
    """The shape zipkin2-api.yaml gives a Span."""
    assert len(span["traceId"]) in (16, 32) and set(span["traceId"]) <= HEX, span
    assert len(span["id"]) == 16 and set(span["id"]) <= HEX, span
    if "parentId" in span:
        assert len(span["parentId"]) == 16 and set(span["parentId"]) <= HEX, span
    assert span["kind"] in KINDS, span
    assert isinstance(span["name"], str) and span["name"], span
    # Microseconds since the epoch: 16 digits these days.
    assert isinstance(span["timestamp"], int) and 10**15 < span["timestamp"] < 10**17, span
    assert isinstance(span["duration"], int) and span["duration"] >= 1, span
    assert isinstance(span["localEndpoint"]["serviceName"], str), span
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in span["tags"].items()), span


def write_config(path: Path, rate: str, endpoint: str) -> Path:
    doc = {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
           "metadata": {"name": "tracing"},
           "spec": {"tracing": {"samplingRate": rate, "zipkin": {"endpointAddress": endpoint}}}}
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    yield server
    server.close()
