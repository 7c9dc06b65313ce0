"""Configuration fixtures: an app that records the updates pushed to it, and
helpers to write a store's SQLite table the way another process would."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import TIME_SCALE, Process, free_port, wait_http

RECORDER = Path(__file__).parent / "apps" / "recorder.py"


class Recorder(Process):
    """tests/configuration/apps/recorder.py on a free port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, str(RECORDER), str(self.port)],
                         workdir / f"recorder-{self.port}.log", cwd=workdir)
        wait_http(self.url + "/healthz", proc=self.proc, expect=(200,))

    def received(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/received", timeout=5).json()

    def wait_for(self, match: Callable[[dict[str, Any]], bool],
                 timeout: float = 5.0) -> dict[str, Any]:
        """The first recorded POST that matches, once there is one."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        while True:
            for post in self.received():
                if match(post):
                    return post
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching update in {timeout}s; got {self.received()}")
            time.sleep(0.05)


@pytest.fixture
def recorder(spawn, tmp_path: Path) -> Recorder:
    return spawn.track(Recorder(tmp_path))  # type: ignore[return-value]


def write_rows(db: Path, rows: list[tuple[str, str, str, dict[str, str]]],
               table: str = "configuration") -> None:
    """Upsert rows with the sqlite3 module, as any other process on the gateway could."""
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT,"
                     " version TEXT, metadata TEXT)")
        conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)",
                         [(k, v, ver, json.dumps(m)) for k, v, ver, m in rows])
    conn.close()
