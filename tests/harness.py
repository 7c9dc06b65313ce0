"""Starting real edge sidecars and real apps as processes, for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

APPS = Path(__file__).parent / "apps"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None,
              expect: Iterable[int] = (204, 200)) -> None:
    deadline = time.monotonic() + timeout
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
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)


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
