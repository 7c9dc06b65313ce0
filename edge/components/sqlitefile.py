"""Opening a SQLite file that several sidecars may share (state, lock and
configuration stores): one aiosqlite connection in autocommit mode, a busy
timeout, WAL, and the store's schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from edge.errors import ConfigError

_PREPARE_ATTEMPTS = 20


def sql_name(meta: dict[str, Any], field: str) -> str:
    """A table name from the metadata: it is put into SQL text, so only Dapr's
    [A-Za-z0-9_]+ is allowed."""
    name = str(meta[field])
    if not (name.isascii() and name.replace("_", "").isalnum()):
        raise ConfigError(f"{name!r} is not a valid table name (letters, digits and _)",
                          field=field)
    return name


async def open_shared(connection_string: str, busy: float, wal: bool,
                      prepare: Callable[[aiosqlite.Connection], Awaitable[None]]
                      ) -> aiosqlite.Connection:
    """Connect (a path, a file: URI or :memory:) and run `prepare` to create the schema."""
    target = connection_string.strip()
    db = await aiosqlite.connect(target, uri=target.startswith("file:"), isolation_level=None,
                                 timeout=busy)
    try:
        await db.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        # Sidecars starting together on a new file race for the schema; the loser
        # may see "database is locked" despite busy_timeout (the switch to WAL
        # needs the file to itself), and simply tries again.
        for attempt in range(_PREPARE_ATTEMPTS):
            try:
                if wal and target != ":memory:":
                    await db.execute("PRAGMA journal_mode = WAL")
                await prepare(db)
                return db
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _PREPARE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
    except BaseException:
        await db.close()
        raise
    raise AssertionError("unreachable")
