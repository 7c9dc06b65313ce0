"""`edge run` (like `dapr run`, one app or a `-f` run file), `edge list` and `edge stop`.

The launcher starts each sidecar and app as child processes, shows their
output with a prefix, and stops them together. Children run in their own
sessions so a terminal's Ctrl-C reaches only the launcher, which then stops
each app before its sidecar (an app shutting down may still call its sidecar).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import aiohttp

from edge.runtime import home
from edge.runtime.nameresolution import Entry, live_entries, process_alive
from edge.runtime.runfile import AppSpec, RunFileError, load_run_file

SIDECAR_READY_TIMEOUT = 60.0  # as long as the Dapr CLI waits for daprd
APP_STOP_GRACE = 5.0  # the Dapr CLI too gives an app 5 s after SIGTERM, then SIGKILL
OUTPUT_DRAIN = 1.0  # a grandchild may keep the pipe open after the app exits
STOP_WAIT = 15.0  # how long `edge stop` waits for the app to be gone
LONGEST_LINE = 1 << 20
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class LaunchError(Exception):
    """A sidecar or app that could not be started; the message is for the user."""


def say(text: str) -> None:
    """The launcher's own messages, in line with the children's output."""
    print(text, flush=True)


# Output -------------------------------------------------------------------


class Sink:
    """Where one child's lines go: the console with a prefix, a log file, or both.

    Console writes are synchronous, like logging's: if the terminal stalls,
    the pumps stall and the children block on their pipes, which is the
    back-pressure wanted rather than unbounded buffering."""

    def __init__(self, prefix: str, console: bool = True, log_file: Path | None = None) -> None:
        self.prefix = prefix.encode()
        self.console = console
        self.file: BinaryIO | None = None
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(log_file, "ab")  # closed in close()
            say(f"Writing log file {log_file}")

    def line(self, data: bytes) -> None:
        if self.console:
            try:
                sys.stdout.buffer.write(self.prefix + data + b"\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                self.console = False  # stdout went away (`edge run | head`); keep running
        if self.file is not None:
            self.file.write(data + b"\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


# Children -----------------------------------------------------------------


class Child:
    """One child process (sidecar or app) whose output is copied to a Sink."""

    def __init__(self, name: str, sink: Sink) -> None:
        self.name = name
        self.sink = sink
        self.proc: asyncio.subprocess.Process | None = None
        self.done: asyncio.Task[int] | None = None

    async def start(self, args: Sequence[str], env: dict[str, str], cwd: Path | None) -> None:
        # No stdin: the terminal belongs to the launcher, whose Ctrl-C stops everyone.
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True,
            preexec_fn=_die_with_launcher)
        self.done = asyncio.create_task(self._watch())

    @property
    def running(self) -> bool:
        return self.done is not None and not self.done.done()

    async def _watch(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        pump = asyncio.create_task(_copy_lines(self.proc.stdout, self.sink))
        code = await self.proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), OUTPUT_DRAIN)
        pump.cancel()
        # Stragglers the child left in its process group would hold the pipe
        # and outlive the run.
        self.signal(signal.SIGTERM, after_exit=True)
        self.sink.close()
        return code

    def signal(self, sig: int, after_exit: bool = False) -> None:
        """Signal the child's whole process group (its session, started by us)."""
        if self.proc is None or (self.proc.returncode is not None and not after_exit):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    async def wait(self) -> int:
        assert self.done is not None
        return await asyncio.shield(self.done)

    async def stop(self, sig: int, grace: float) -> int:
        """Ask with sig, insist with SIGKILL after grace seconds."""
        self.signal(sig)
        try:
            return await asyncio.wait_for(self.wait(), grace)
        except TimeoutError:
            say(f"{self.name} did not stop within {grace:g}s: killing it")
            self.signal(signal.SIGKILL)
            return await self.wait()


def _die_with_launcher() -> None:
    """In the child before exec: get SIGTERM when the launcher dies, even by
    SIGKILL, so no app or sidecar is left running without it (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def _copy_lines(stream: asyncio.StreamReader, sink: Sink) -> None:
    # Chunks rather than readline(): a line longer than the reader's limit
    # would otherwise end the copy.
    pending = b""
    while chunk := await stream.read(65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > LONGEST_LINE:  # output that never ends a line is shown in pieces
            lines.append(pending)
            pending = b""
        for line in lines:
            sink.line(line.rstrip(b"\r"))
    if pending:
        sink.line(pending)


# One app and its sidecar ------------------------------------------------------


class Pair:
    """An app and its sidecar, started in that order and stopped in reverse."""

    def __init__(self, spec: AppSpec, stopping: asyncio.Event, multi: bool) -> None:
        self.spec = spec
        self.stopping = stopping
        tag = f" - {spec.app_id}" if multi else ""
        logs = _log_folder(spec) if multi else None
        self.app = Child(f"app {spec.app_id}", _sink(f"== APP{tag} == ", spec.app_log, logs,
                                                     f"{spec.app_id}_app"))
        self.sidecar = Child(f"sidecar {spec.app_id}",
                             _sink(f"== EDGE{tag} == ", spec.sidecar_log, logs,
                                   f"{spec.app_id}_sidecar"))
        self.multi = multi
        self.failed = False
        self.stop_signal: int = signal.SIGTERM  # the one the launcher got, passed on

    @property
    def children(self) -> list[Child]:
        return [self.app, self.sidecar]

    async def start(self) -> None:
        spec = self.spec
        say(f"Starting edge sidecar with id {spec.app_id}. HTTP Port: {spec.dapr_http_port}. "
            f"gRPC Port: {spec.dapr_grpc_port}")
        await self.sidecar.start(sidecar_command(spec), _sidecar_env(spec), spec.app_dir)
        await self._wait_sidecar_ready()
        if self.stopping.is_set():
            return
        if not spec.command:
            say(f"WARNING: no application command found for {spec.app_id}; "
                "running the sidecar only.")
            return
        try:
            await self.app.start(spec.command, _app_env(spec), spec.app_dir)
        except OSError as exc:
            raise LaunchError(f"cannot start the app {spec.app_id} "
                              f"({spec.command[0]}): {exc.strerror or exc}") from None
        say(f"App {spec.app_id} is up and running" if self.multi else
            "You're up and running! Both the app and the sidecar log here.")

    async def _wait_sidecar_ready(self) -> None:
        url = f"{api_url(self.spec)}/v1.0/healthz/outbound"
        deadline = time.monotonic() + SIDECAR_READY_TIMEOUT
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self.stopping.is_set():
                if not self.sidecar.running:
                    code = await self.sidecar.wait()
                    raise LaunchError(f"the sidecar for {self.spec.app_id} exited with code "
                                      f"{code} before it was ready (its output is above)")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as response:
                        if response.status == 204:
                            return
                if time.monotonic() > deadline:
                    raise LaunchError(f"the sidecar for {self.spec.app_id} was not ready "
                                      f"after {SIDECAR_READY_TIMEOUT:g}s")
                await asyncio.sleep(0.1)

    async def run(self) -> int:
        """Until the app or the sidecar exits, or a stop is asked; the exit code."""
        stop = asyncio.create_task(self.stopping.wait())
        watched = [c.done for c in self.children if c.done is not None]
        await asyncio.wait([*watched, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if self.app.done is not None and self.app.done.done():
            return await self._app_exited()
        if self.sidecar.done is not None and self.sidecar.done.done():
            return await self._sidecar_exited()
        return await self.shutdown(self.stop_signal)

    async def _app_exited(self) -> int:
        code = exit_status(await self.app.wait())
        if code == 0:
            say(f"Exited app {self.spec.app_id} successfully")
        else:
            say(f"The app {self.spec.app_id} exited with code {code}")
            self.failed = True
        await self._stop_sidecar(signal.SIGTERM)
        return code

    async def _sidecar_exited(self) -> int:
        code = exit_status(await self.sidecar.wait())
        say(f"The sidecar for {self.spec.app_id} exited with code {code}")
        if self.app.running:
            say(f"Stopping the app {self.spec.app_id}")
            await self.app.stop(signal.SIGTERM, APP_STOP_GRACE)
        self.failed = self.failed or code != 0
        return code or 1

    async def shutdown(self, sig: int) -> int:
        """Stop the app, then its sidecar; the app's exit code (the sidecar's if no app).

        An app that ends of the signal it was asked to stop with has stopped as
        asked: the run exits 0 then, as `dapr run` does after `dapr stop`."""
        code = None
        if self.app.running:
            code = exit_status(await self.app.stop(sig, APP_STOP_GRACE))
            if code == 128 + sig:
                code = 0
        elif self.app.done is not None:
            code = exit_status(await self.app.wait())
        sidecar = await self._stop_sidecar(sig)
        return sidecar if code is None else code

    async def _stop_sidecar(self, sig: int) -> int:
        if self.sidecar.done is None:
            return 0
        grace = self.spec.graceful_shutdown_seconds + 5.0
        return exit_status(await self.sidecar.stop(sig, grace))

    def kill(self) -> None:
        for child in self.children:
            child.signal(signal.SIGKILL)


def _sink(prefix: str, destination: str, folder: Path | None, name: str) -> Sink:
    log_file = None
    if folder is not None and destination in ("file", "fileAndConsole"):
        log_file = folder / f"{name}_{datetime.now():%Y%m%d%H%M%S}.log"
    return Sink(prefix, console=destination != "file", log_file=log_file)


def _log_folder(spec: AppSpec) -> Path:
    # Where the Dapr CLI writes a run file's logs.
    return (spec.app_dir or Path.cwd()) / ".dapr" / "logs"


def exit_status(returncode: int) -> int:
    """A process's exit code as a shell shows it (128 + N when killed by signal N)."""
    return 128 - returncode if returncode < 0 else returncode


# Commands and environments ----------------------------------------------------


def edge_command() -> list[str]:
    # A PyInstaller build is one executable whose first argument is the subcommand.
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "edge"]


def sidecar_command(spec: AppSpec) -> list[str]:
    """`edge sidecar` with the flags `edge.cli.sidecar_options` reads back."""
    args = [*edge_command(), "sidecar", "--app-id", spec.app_id,
            "--dapr-http-port", str(spec.dapr_http_port),
            "--dapr-grpc-port", str(spec.dapr_grpc_port),
            "--app-protocol", spec.app_protocol,
            "--app-channel-address", spec.app_channel_address,
            "--dapr-listen-addresses", spec.listen_addresses,
            "--log-level", spec.log_level,
            "--dapr-http-max-request-size", str(spec.max_request_size_mb),
            "--dapr-graceful-shutdown-seconds", f"{spec.graceful_shutdown_seconds:g}",
            "--app-max-concurrency", str(spec.app_max_concurrency)]
    if spec.app_port is not None:
        args += ["--app-port", str(spec.app_port)]
    if spec.internal_port:
        args += ["--dapr-internal-grpc-port", str(spec.internal_port)]
    if not spec.enable_metrics:
        args.append("--enable-metrics=false")
    elif spec.metrics_port:
        args += ["--metrics-port", str(spec.metrics_port)]
    for path in spec.resources_paths:
        args += ["--resources-path", path]
    if spec.config:
        args += ["--config", spec.config]
    if spec.log_as_json:
        args.append("--log-as-json")
    if spec.enable_api_logging:
        args.append("--enable-api-logging")
    return args


_TOKENS = ("DAPR_API_TOKEN", "APP_API_TOKEN")


def _sidecar_env(spec: AppSpec) -> dict[str, str]:
    env = {**os.environ, "EDGE_RUN_PID": str(os.getpid())}  # recorded for `edge stop`
    # A token given to the app in a run file must be the one its sidecar checks and sends.
    env.update({name: spec.env[name] for name in _TOKENS if name in spec.env})
    return env


def _app_env(spec: AppSpec) -> dict[str, str]:
    env = dict(os.environ)
    # An APP_PORT inherited from the launcher's own environment describes another app.
    env.pop("APP_PORT", None)
    env.update({
        "APP_ID": spec.app_id,
        "APP_CHANNEL_ADDRESS": spec.app_channel_address,
        "APP_PROTOCOL": spec.app_protocol,
        "DAPR_HTTP_PORT": str(spec.dapr_http_port),
        "DAPR_GRPC_PORT": str(spec.dapr_grpc_port),
        "DAPR_HTTP_ENDPOINT": api_url(spec),
    })
    if spec.app_port is not None:
        env["APP_PORT"] = str(spec.app_port)
    # Output goes through a pipe, where Python would buffer it for minutes.
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(spec.env)  # the run file has the last word, as with the Dapr CLI
    return env


def api_url(spec: AppSpec) -> str:
    """The sidecar's HTTP API as the app reaches it."""
    host = spec.listen_addresses.split(",")[0].strip().strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{spec.dapr_http_port}"


# Ports and ids ----------------------------------------------------------------


class Ports:
    """Free ports for one run, never the same one twice."""

    def __init__(self, taken: Sequence[int | None]) -> None:
        self.taken = {p for p in taken if p}

    def pick(self, given: int | None) -> int:
        if given:
            return given
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in self.taken:
                self.taken.add(port)
                return port


def assign_ports(specs: list[AppSpec]) -> None:
    ports = Ports([p for s in specs
                   for p in (s.dapr_http_port, s.dapr_grpc_port, s.app_port, s.metrics_port)])
    for spec in specs:
        spec.dapr_http_port = ports.pick(spec.dapr_http_port)
        spec.dapr_grpc_port = ports.pick(spec.dapr_grpc_port)
        if spec.enable_metrics:
            # As `dapr run` does: each sidecar of a run gets a metrics port of its own.
            spec.metrics_port = ports.pick(spec.metrics_port)


def default_app_id(command: list[str]) -> str:
    """Like the Dapr CLI, an id the user can recognise: the folder's name for an
    app, with a random tail when that is taken or there is no app."""
    taken = {entry.app_id for entry in live_entries(home.registry_file())}
    base = re.sub(r"[^a-z0-9-]+", "-", Path.cwd().name.lower()).strip("-") if command else ""
    if base and base not in taken:
        return base
    return f"{base or 'edge'}-{secrets.token_hex(3)}"


def spec_from_flags(args: argparse.Namespace, command: list[str]) -> AppSpec:
    return AppSpec(
        app_id=args.app_id or default_app_id(command),
        command=command,
        app_port=args.app_port,
        app_protocol=args.app_protocol,
        app_channel_address=args.app_channel_address,
        dapr_http_port=args.dapr_http_port,
        dapr_grpc_port=args.dapr_grpc_port,
        internal_port=args.internal_port,
        listen_addresses=args.dapr_listen_addresses,
        resources_paths=list(args.resources_paths or []),
        config=args.config,
        log_level=args.log_level,
        log_as_json=args.log_as_json,
        enable_api_logging=args.enable_api_logging,
        max_request_size_mb=args.dapr_http_max_request_size,
        graceful_shutdown_seconds=args.dapr_graceful_shutdown_seconds,
        app_max_concurrency=args.app_max_concurrency,
        enable_metrics=args.enable_metrics,
        metrics_port=args.metrics_port,
    )


# The launcher -----------------------------------------------------------------


class Launcher:
    """Starts every pair, forwards signals, and stops everything at the end."""

    def __init__(self, specs: list[AppSpec], multi: bool) -> None:
        self.stopping = asyncio.Event()
        self.multi = multi
        self.pairs = [Pair(spec, self.stopping, multi) for spec in specs]

    def _on_signal(self, sig: int) -> None:
        if self.stopping.is_set():
            say("Second signal: killing every app and sidecar now")
            for pair in self.pairs:
                pair.kill()
            return
        say(f"Received {signal.Signals(sig).name}: stopping apps and sidecars")
        for pair in self.pairs:
            pair.stop_signal = sig
        self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            if not await self._start_all():
                self.stopping.set()
                await asyncio.gather(*(p.shutdown(signal.SIGTERM) for p in self.pairs))
                return 1
            codes = await asyncio.gather(*(pair.run() for pair in self.pairs))
        finally:
            await self._kill_leftovers()
        if self.multi:
            return 1 if any(pair.failed for pair in self.pairs) else 0
        return codes[0]

    async def _start_all(self) -> bool:
        # One after another, as the Dapr CLI does: each sidecar has its
        # components up before the next opens the same files (a shared SQLite
        # state store, say).
        for pair in self.pairs:
            if self.stopping.is_set():
                break
            try:
                await pair.start()
            except LaunchError as exc:
                say(f"ERROR: {exc}")
                return False
        return True

    async def _kill_leftovers(self) -> None:
        # Only reached with children alive if something above failed unexpectedly.
        for pair in self.pairs:
            for child in pair.children:
                if child.running:
                    child.signal(signal.SIGKILL)
                    await child.wait()


def main(args: argparse.Namespace, command: list[str]) -> int:
    """`edge run`: one app from flags, or every app of a run file (-f)."""
    if args.run_file:
        if command or args.app_id:
            print("edge run: -f takes the apps from the run file; give no --app-id or command",
                  file=sys.stderr)
            return 2
        try:
            run = load_run_file(args.run_file)
        except RunFileError as exc:
            print(f"edge run: {exc}", file=sys.stderr)
            return 1
        for note in run.notes:
            say(f"note: {note}")
        specs = run.apps
    else:
        specs = [spec_from_flags(args, command)]
    assign_ports(specs)
    return asyncio.run(Launcher(specs, multi=bool(args.run_file)).run())


# `edge list` and `edge stop` --------------------------------------------------


def age(seconds: float) -> str:
    """12s, 3m, 5h, 2d: how long ago, as `dapr list` shows it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def list_sidecars() -> int:
    entries = live_entries(home.registry_file())
    if not entries:
        print("No edge sidecars found.")
        return 0
    now = time.time()
    rows = [["APP ID", "HTTP PORT", "GRPC PORT", "APP PORT", "PID", "AGE"]]
    rows += [[e.app_id, _text(e.http_port), _text(e.grpc_port), _text(e.app_port), str(e.pid),
              age(now - e.started)] for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def stop_app(app_id: str) -> int:
    path = home.registry_file()
    entries = live_entries(path)
    mine = [e for e in entries if e.app_id == app_id]
    if not mine:
        print(f"edge stop: no app with id {app_id!r} is running (see `edge list`)",
              file=sys.stderr)
        return 1
    pids = {_pid_to_stop(entry, entries) for entry in mine}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if _wait_gone(path, {e.instance for e in mine}, pids):
        print(f"Stopped app {app_id}")
        return 0
    print(f"edge stop: asked {app_id} to stop; it is still shutting down", file=sys.stderr)
    return 1


def _pid_to_stop(entry: Entry, entries: list[Entry]) -> int:
    """The `edge run` launcher when it runs only this app (it then stops app and
    sidecar in order); else the sidecar, whose launcher then stops its app."""
    if entry.run_pid:
        others = [e for e in entries if e.run_pid == entry.run_pid and e.app_id != entry.app_id]
        if not others:
            return entry.run_pid
    return entry.pid


def _wait_gone(path: Path, instances: set[str], pids: set[int]) -> bool:
    """Whether the sidecars left the registry and the signalled processes ended."""
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        registered = instances & {e.instance for e in live_entries(path)}
        if not registered and not any(process_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False
