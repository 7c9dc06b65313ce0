"""The sidecar process: loads resources, serves the API, talks to its app and
to the other sidecars, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from edge import __version__
from edge.api.server import internal_app, public_app
from edge.components.base import ComponentContext
from edge.runtime import metrics, tracing
from edge.runtime.actors.runtime import ActorRuntime
from edge.runtime.appgrpc import GrpcApp
from edge.runtime.bindings import BindingsRuntime
from edge.runtime.channel import HttpChannel, wait_for_port
from edge.runtime.components import Components
from edge.runtime.config import Configuration, load_configuration
from edge.runtime.home import edge_home, internal_secret, registry_file
from edge.runtime.loader import load_resources
from edge.runtime.nameresolution import Registry, check_component
from edge.runtime.pubsub import PubSubRuntime
from edge.runtime.resiliency import Resiliency

log = logging.getLogger("edge.runtime")


@dataclass
class SidecarOptions:
    app_id: str
    app_port: int | None = None
    app_protocol: str = "http"
    app_channel_address: str = "127.0.0.1"
    dapr_http_port: int = 3500
    dapr_grpc_port: int | None = None
    internal_port: int = 0
    listen_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    resources_paths: list[str] = field(default_factory=list)
    config: str | None = None
    enable_api_logging: bool = False
    max_request_size_mb: int = 4
    graceful_shutdown_seconds: float = 5.0
    app_max_concurrency: int = -1
    api_token: str | None = None
    app_api_token: str | None = None
    namespace: str = ""
    enable_metrics: bool = True
    metrics_port: int = 9090


class Sidecar:
    def __init__(self, options: SidecarOptions) -> None:
        self.options = options
        self.started = time.time()
        self.config = Configuration()
        self.components = Components(ComponentContext(options.app_id, options.namespace,
                                                      edge_home()))
        self.app = HttpChannel(options.app_max_concurrency, metered=True)
        # With --app-protocol grpc, the app is called through this instead.
        self.app_grpc = GrpcApp(options.app_channel_address, options.app_port or 0,
                                options.app_api_token) if options.app_protocol == "grpc" else None
        self.peers = HttpChannel()
        self.registry = Registry(registry_file())
        self.pubsub = PubSubRuntime(self)
        self.bindings = BindingsRuntime(self)
        self.actors = ActorRuntime(self)
        self.resiliency = Resiliency([])
        self.extended: dict[str, str] = {}
        self.outbound_ready = False
        self.app_ready = False
        self.stop_requested = asyncio.Event()
        self._runners: list[web.AppRunner] = []
        self._grpc: Any = None  # grpc.aio.Server, when --dapr-grpc-port is set
        self._tasks: set[asyncio.Task[None]] = set()
        self.internal_port = 0
        self.internal_secret = ""

    @property
    def app_url(self) -> str:
        return f"http://{self.options.app_channel_address}:{self.options.app_port}"

    def app_headers(self) -> dict[str, str]:
        """Headers every request to the app carries."""
        token = self.options.app_api_token
        return {"dapr-api-token": token} if token else {}

    @property
    def ready(self) -> bool:
        return self.outbound_ready and (self.app_ready or self.options.app_port is None)

    async def serve(self) -> None:
        """Run until asked to stop (signal or /v1.0/shutdown)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop_requested.set)
        try:
            await self._start()
            await self.stop_requested.wait()
            log.info("shutting down (grace %gs)", self.options.graceful_shutdown_seconds)
        finally:
            await self._stop()

    async def _start(self) -> None:
        options = self.options
        log.info("starting edge %s, app id %s", __version__, options.app_id)
        if options.config:
            self.config = load_configuration(options.config)
            check_component(self.config.name_resolution.component, options.config)
        # Before the servers are built: they trace only if this turns tracing on.
        tracing.start(self)
        self.internal_secret = await asyncio.to_thread(internal_secret)
        resources = load_resources(options.resources_paths)
        # Before the components load, so that their loading is counted.
        metrics_runner = await metrics.start(self)
        if metrics_runner is not None:
            self._runners.append(metrics_runner)
        self.resiliency = Resiliency.load(resources.documents.get("Resiliency", []),
                                          options.app_id)
        await self.components.load(resources.components)
        self.pubsub.load(resources.documents.get("Subscription", []))
        await self._listen(public_app(self), options.listen_addresses, options.dapr_http_port)
        internal = await self._listen(internal_app(self), ["127.0.0.1"], options.internal_port)
        self.internal_port = internal
        log.info("HTTP API on %s port %d, internal port %d",
                 ",".join(options.listen_addresses), options.dapr_http_port, internal)
        if options.dapr_grpc_port:
            await self._serve_grpc()
        await self.registry.register(options.app_id, "127.0.0.1", internal, options.dapr_http_port,
                                     options.dapr_grpc_port, options.app_port)
        # Healthy only once other sidecars can find this one.
        self.outbound_ready = True
        launcher = int(os.environ.get("EDGE_RUN_PID", "0") or 0)
        if launcher:
            self._tasks.add(asyncio.create_task(self._follow_launcher(launcher)))
        if options.app_port is not None:
            self._tasks.add(asyncio.create_task(self._wait_for_app()))
        else:
            log.info("no app port given: sidecar runs without an app")

    async def _serve_grpc(self) -> None:
        # Imported here: a sidecar without a gRPC port does not load gRPC at all.
        from edge.api.grpc.server import start

        self._grpc = await start(self)
        log.info("gRPC API on %s port %d", ",".join(self.options.listen_addresses),
                 self.options.dapr_grpc_port)

    async def _follow_launcher(self, pid: int) -> None:
        """Stop when the `edge run` that started this sidecar is gone, even by
        SIGKILL, so no orphaned sidecar keeps serving."""
        # The launcher is this process's parent; once it is gone the sidecar is
        # handed to another parent (a dead but unreaped launcher still answers kill 0).
        while not self.stop_requested.is_set():
            await asyncio.sleep(1.0)
            if os.getppid() != pid:
                log.warning("edge run (pid %d) is gone; stopping", pid)
                self.stop_requested.set()

    async def _wait_for_app(self) -> None:
        log.info("waiting for the app on %s", self.app_url)
        if await wait_for_port(self.options.app_channel_address, self.options.app_port or 0,
                               self.stop_requested):
            if self.app_grpc is not None:
                await self.app_grpc.check_speaks_grpc()
            # Ready once subscribed, so that what is published next is delivered.
            await self.pubsub.start()
            await self.bindings.start()
            if self.app_grpc is None:  # actors are hosted by HTTP apps only
                await self.actors.start()
            self.app_ready = True
            log.info("app is listening on port %d; sidecar ready", self.options.app_port)

    async def _listen(self, app: web.Application, hosts: list[str], port: int) -> int:
        runner = web.AppRunner(app, access_log=None,
                               shutdown_timeout=self.options.graceful_shutdown_seconds)
        await runner.setup()
        self._runners.append(runner)
        site = None
        for host in hosts:
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
            if port == 0:
                # Every further address shares the port the first one got.
                port = _bound_port(site)
        return port

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pubsub.stop()
        await self.bindings.stop()
        await self.actors.stop()
        with contextlib.suppress(Exception):
            await self.registry.deregister()
        if self._grpc is not None:
            with contextlib.suppress(Exception):
                await self._grpc.stop(self.options.graceful_shutdown_seconds)
        for runner in reversed(self._runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()
        await self.app.close()
        if self.app_grpc is not None:
            await self.app_grpc.close()
        await self.peers.close()
        await self.components.close()
        metrics.stop()
        await tracing.stop()
        log.info("stopped")

    def request_shutdown(self) -> None:
        self.stop_requested.set()


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp exposes no public accessor for the bound socket
    assert server is not None and server.sockets
    return int(server.sockets[0].getsockname()[1])


def run_sidecar(options: SidecarOptions) -> int:
    from edge.errors import ConfigError

    try:
        asyncio.run(Sidecar(options).serve())
    except ConfigError as exc:
        log.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0
