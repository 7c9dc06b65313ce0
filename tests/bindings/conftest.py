"""Bindings fixtures: the receiver app, a local HTTP endpoint for the http
binding, and one output-only sidecar shared by each xdist worker."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.conftest import Spawner
from tests.harness import TIME_SCALE, Process, Sidecar, free_port, wait_http, write_component

RECEIVER = Path(__file__).parent / "apps" / "receiver.py"


class Receiver(Process):
    """tests/bindings/apps/receiver.py on a free port."""

    def __init__(self, workdir: Path, fail: int = 0, routes: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"RECEIVER_FAIL": str(fail), "RECEIVER_ROUTES": routes}
        super().__init__([sys.executable, str(RECEIVER), str(self.port)],
                         workdir / f"receiver-{self.port}.log", env, cwd=workdir)
        wait_http(self.url + "/healthz", proc=self.proc, expect=(200,))

    def received(self) -> dict[str, Any]:
        return httpx.get(self.url + "/received", timeout=5).json()

    def wait_for(self, count: int, path: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout * TIME_SCALE
        while True:
            found = [e for e in self.received()["events"] if e["path"] == path]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} events at {path} expected; got {found}")
            time.sleep(0.05)


async def _endpoint(request: web.Request) -> web.Response:
    """Echoes the request; /status/N answers N."""
    body = await request.read()
    before, _, code = request.path.rpartition("/")
    status = int(code) if before.endswith("/status") else 200
    echo = {"method": request.method, "path": request.path_qs, "body": body.decode(),
            "headers": {k.lower(): v for k, v in request.headers.items()}}
    return web.Response(status=status, text=json.dumps(echo), content_type="application/json",
                        headers={"X-Reply": "yes"})


class Endpoint:
    """A real aiohttp server in a thread of the test process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _endpoint)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Shared:
    sidecar: Sidecar
    http: httpx.Client
    endpoint: Endpoint
    root: Path


@pytest.fixture(scope="session")
def shared_bindings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    workdir = tmp_path_factory.mktemp("bindings")
    endpoint = Endpoint()
    resources, root = workdir / "resources", workdir / "files"
    write_component(resources, "web", "bindings.http", {"url": endpoint.url + "/api"})
    write_component(resources, "files", "bindings.localstorage", {"rootPath": str(root)})
    write_component(resources, "infiles", "bindings.localstorage",
                    {"rootPath": str(root), "direction": "input"})
    write_component(resources, "ticks", "bindings.cron", {"schedule": "@every 1h"})
    spawner = Spawner(workdir)
    sidecar = spawner.sidecar("bindings", resources)
    with sidecar.client() as http:
        yield Shared(sidecar, http, endpoint, root)
    spawner.close()
    endpoint.close()


@pytest.fixture
def shared(shared_bindings: Shared, request: pytest.FixtureRequest) -> Iterator[Shared]:
    yield shared_bindings
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"----- {shared_bindings.sidecar.log.name}\n{shared_bindings.sidecar.output()}")
