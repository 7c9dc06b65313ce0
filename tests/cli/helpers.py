"""Running the `edge` command as a user would, for the CLI tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from edge.runtime.nameresolution import Entry, live_entries
from tests.harness import Process, edge_command

CLI_APPS = Path(__file__).parent / "apps"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "edge" / "examples" / "hello"


def edge_env(workdir: Path) -> dict[str, str]:
    """An environment with its own edge home, and this Python first on PATH so
    that run files saying `python3` get an interpreter with aiohttp."""
    bin_dir = str(Path(sys.executable).parent)
    return {"EDGE_HOME": str(workdir / "home"),
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1"}


def edge(env: dict[str, str], *args: str, timeout: float = 15.0,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One `edge` command run to its end."""
    return subprocess.run(edge_command(*args), env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


class EdgeRun(Process):
    """`edge run ...` in the background, its output kept in a log file."""

    count = 0

    def __init__(self, workdir: Path, env: dict[str, str], *args: str,
                 cwd: Path | None = None) -> None:
        EdgeRun.count += 1
        self.home = Path(env["EDGE_HOME"])
        super().__init__(edge_command("run", *args), workdir / f"edge-run-{EdgeRun.count}.log",
                         env, cwd=cwd or workdir)

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first match of a regular expression in the output, once it is there."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output(), re.MULTILINE)
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                state = ("exited with " + str(self.proc.returncode)
                         if self.proc.poll() is not None else f"not there after {timeout}s")
                raise AssertionError(f"{pattern!r}: {state}\n----- output\n{self.output()}")
            time.sleep(0.05)

    def sidecars(self, count: int, timeout: float = 10.0) -> dict[str, Entry]:
        """The registry entries once `count` sidecars of this home are registered."""
        deadline = time.monotonic() + timeout
        while True:
            entries = {e.app_id: e for e in live_entries(self.home / "nameresolution.db")}
            if len(entries) >= count:
                return entries
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{len(entries)} of {count} sidecars registered\n"
                                     f"----- output\n{self.output()}")
            time.sleep(0.05)

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        """What Ctrl-C (or `kill`) does: a signal to the launcher alone."""
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        text = stat.read_text()
        return text[text.rindex(")") + 2] != "Z"
    return True


def assert_gone(pids: Iterable[int], timeout: float = 5.0) -> None:
    pids = set(pids)
    deadline = time.monotonic() + timeout
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if running(pid)]
    assert not left, f"processes left behind: {left}"


def require_python3_with_aiohttp(env: dict[str, str]) -> None:
    """The run files here say `python3`; it must be a Python that has aiohttp."""
    python3 = shutil.which("python3", path=env["PATH"])
    found = python3 and subprocess.run([python3, "-c", "import aiohttp"], capture_output=True)
    if not found or found.returncode != 0:
        raise AssertionError(
            "these tests need `python3` with aiohttp on PATH: run them with the project's "
            "virtualenv (`make test`, or `.venv/bin/python -m pytest`), whose bin/ is put first")
