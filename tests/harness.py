"""Starting real edge sidecars and real apps as processes, for the tests."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

APPS = Path(__file__).parent / "apps"
# Waits are multiplied by this where everything runs slower (the GPIO tests run
# inside an emulated machine, whose Python starts several times slower).
TIME_SCALE = float(os.environ.get("EDGE_TEST_TIME_SCALE", "1") or 1)


def _port_slice() -> Iterator[int]:
    """This worker's own ports, below the kernel's ephemeral range.

    Asking the kernel for port 0 twice in a row can hand back the same port, and
    parallel workers can be handed the same one too; a sidecar given both then
    fails to start. Each xdist worker therefore walks its own slice of ports the
    kernel never picks for outgoing connections or port-0 listens, starting at a
    random place so quick reruns do not meet ports still in TIME_WAIT.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), 1)
    span = (_PORT_HIGH - _PORT_LOW) // count
    base = _PORT_LOW + (index % count) * span
    offset = random.randrange(span)
    while True:
        for step in range(span):
            yield base + (offset + step) % span


_PORT_LOW, _PORT_HIGH = 15000, 32000
_ports = _port_slice()


def free_port() -> int:
    """A port nothing listens on, never handed out twice by this process."""
    for port in _ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable")


def accepts(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def write_component(folder: Path, name: str, ctype: str, metadata: Mapping[str, Any] | None = None,
                    **extra: Any) -> Path:
    """A Dapr component YAML file, as a user would write it."""
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": name},
        "spec": {"type": ctype, "version": "v1",
                 "metadata": [{"name": k, "value": v} for k, v in (metadata or {}).items()]},
    }
    for key, value in extra.items():
        if key in ("scopes", "auth"):
            doc[key] = value
        else:
            doc["spec"][key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def wait_until(check: Callable[[], Any], timeout: float = 10.0,
               what: str | Callable[[], str] = "a condition") -> Any:
    """Poll `check` until it returns something true; fail saying what was awaited."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


def wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None,
              expect: Iterable[int] = (204, 200)) -> None:
    deadline = time.monotonic() + timeout * TIME_SCALE
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            status = httpx.get(url, timeout=1.0).status_code
            if status in expect:
                return
            last = f"status {status}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer in {timeout}s ({last})")


class Process:
    """A child process whose output goes to a log file kept for failures."""

    def __init__(self, args: list[str], log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.args = args
        self.log = log
        self._out = open(log, "ab")  # closed in stop()
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, cwd=cwd,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()
        return self.proc.returncode

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)


def edge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge", *args]


class Sidecar(Process):
    """`edge sidecar` on free ports, ready when this returns."""

    def __init__(self, workdir: Path, app_id: str, resources: Path | None = None,
                 app_port: int | None = None, env: Mapping[str, str] | None = None,
                 args: Iterable[str] = (), wait: str = "outbound",
                 http_port: int | None = None) -> None:
        self.app_id = app_id
        self.http_port = http_port or free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        cmd = edge_command("sidecar", "--app-id", app_id, "--dapr-http-port", str(self.http_port),
                           *args)
        if resources is not None:
            cmd += ["--resources-path", str(resources)]
        if app_port is not None:
            cmd += ["--app-port", str(app_port)]
        if not any(a.startswith(("--metrics-port", "--enable-metrics")) for a in cmd):
            # Not daprd's 9090: many sidecars run at once, and the machine may use it.
            cmd += ["--metrics-port", str(free_port())]
        # Nor 50001 for gRPC, for the same reason.
        self.grpc_port = next((int(b) for a, b in itertools.pairwise(cmd)
                               if a == "--dapr-grpc-port"), None)
        if self.grpc_port is None:
            self.grpc_port = free_port()
            cmd += ["--dapr-grpc-port", str(self.grpc_port)]
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(cmd, workdir / f"sidecar-{app_id}-{self.http_port}.log",
                         {"EDGE_HOME": str(workdir / "home"), **(env or {})}, cwd=workdir)
        if wait:
            path = "/v1.0/healthz/outbound" if wait == "outbound" else "/v1.0/healthz"
            try:
                wait_http(self.url + path, proc=self.proc)
            except (TimeoutError, RuntimeError) as exc:
                self.stop()
                raise RuntimeError(
                    f"sidecar {app_id} did not start: {exc}\n{self.output()}") from None

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 10.0 * TIME_SCALE)
        return httpx.Client(base_url=self.url, **kwargs)


class App(Process):
    """One of the small apps under tests/apps, on a free port."""

    def __init__(self, workdir: Path, script: str, port: int | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, str(APPS / script), str(self.port)],
                         workdir / f"app-{Path(script).stem}-{self.port}.log", env, cwd=workdir)
        try:
            wait_http(self.url + "/healthz", proc=self.proc, expect=(200, 204))
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"app {script} did not start: {exc}\n{self.output()}") from None
