"""Single-host name resolution: sidecars on one machine register in a SQLite
file under the edge home (as Dapr's nameresolution.sqlite does) and find each
other there. An entry lives while its sidecar keeps beating and its process
exists; a sidecar killed with SIGKILL drops out within a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ConfigError

log = logging.getLogger("edge.runtime.nameresolution")

HEARTBEAT = 2.0
EXPIRY = 6.0
_CACHE_SECONDS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sidecars (
    instance TEXT PRIMARY KEY, app_id TEXT NOT NULL, host TEXT NOT NULL,
    internal_port INTEGER NOT NULL, http_port INTEGER, grpc_port INTEGER, app_port INTEGER,
    pid INTEGER NOT NULL, run_pid INTEGER, started REAL NOT NULL, heartbeat REAL NOT NULL
)"""


# Name resolution components a Configuration may select (spec.nameResolution).
SQLITE, MDNS = "sqlite", "mdns"


def check_component(component: str, file: str | None) -> None:
    """Refuse a name resolution edge cannot do; say what stands in for mDNS."""
    name = component.strip().lower()
    if name in ("", SQLITE):
        return
    if name == MDNS:
        log.warning("spec.nameResolution mdns: sidecars on this host find each other through "
                    "the SQLite registry in the edge home; other hosts are not searched")
        return
    raise ConfigError(f"name resolution {component!r} is not available in edge (supported: "
                      "sqlite, mdns)", file=file, field="spec.nameResolution.component")


@dataclass(frozen=True)
class Entry:
    instance: str
    app_id: str
    host: str
    internal_port: int
    http_port: int | None
    grpc_port: int | None
    app_port: int | None
    pid: int
    run_pid: int | None
    started: float
    heartbeat: float


def process_alive(pid: int) -> bool:
    """Running, and not a zombie (a process that exited but was not waited for yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return True


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(_SCHEMA)
    return conn


def live_entries(path: Path, app_id: str | None = None) -> list[Entry]:
    """The sidecars alive now; stale rows are removed on the way."""
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        sql, args = "SELECT * FROM sidecars", ()
        if app_id is not None:
            sql, args = sql + " WHERE app_id = ?", (app_id,)
        rows = [Entry(*row) for row in conn.execute(sql + " ORDER BY started", args)]
        cutoff = time.time() - EXPIRY
        dead = [e for e in rows if e.heartbeat < cutoff or not process_alive(e.pid)]
        if dead:
            conn.executemany("DELETE FROM sidecars WHERE instance = ?",
                             [(e.instance,) for e in dead])
        return [e for e in rows if e not in dead]
    finally:
        conn.close()


class Registry:
    """This sidecar's registration and its view of the others."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.instance = uuid.uuid4().hex
        self._beat: asyncio.Task[None] | None = None
        self._cache: dict[str, tuple[float, list[Entry]]] = {}
        self._turn = itertools.count()

    async def register(self, app_id: str, host: str, internal_port: int, http_port: int | None,
                       grpc_port: int | None, app_port: int | None) -> None:
        run_pid = int(os.environ.get("EDGE_RUN_PID", "0")) or None
        row = (self.instance, app_id, host, internal_port, http_port, grpc_port, app_port,
               os.getpid(), run_pid, time.time(), time.time())
        await asyncio.to_thread(self._execute, "INSERT OR REPLACE INTO sidecars VALUES "
                                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._beat = asyncio.create_task(self._heartbeat())

    async def deregister(self) -> None:
        if self._beat:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        with contextlib.suppress(sqlite3.Error):
            await asyncio.to_thread(self._execute, "DELETE FROM sidecars WHERE instance = ?",
                                    (self.instance,))

    def _execute(self, sql: str, args: tuple[object, ...]) -> None:
        conn = _connect(self.path)
        try:
            conn.execute(sql, args)
        finally:
            conn.close()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await asyncio.to_thread(self._execute,
                                        "UPDATE sidecars SET heartbeat = ? WHERE instance = ?",
                                        (time.time(), self.instance))
            except sqlite3.Error as exc:
                log.warning("name resolution heartbeat failed: %s", exc)

    async def resolve(self, app_id: str, fresh: bool = False) -> Entry | None:
        """One live instance of app_id, round robin over the instances."""
        now = time.monotonic()
        cached = self._cache.get(app_id)
        if fresh or cached is None or now - cached[0] > _CACHE_SECONDS:
            entries = await asyncio.to_thread(live_entries, self.path, app_id)
            self._cache[app_id] = (now, entries)
        else:
            entries = cached[1]
        if not entries:
            return None
        return entries[next(self._turn) % len(entries)]
