"""configuration.sqlite (an edge addition): configuration items in a table of a
SQLite file, so that any process on the gateway can change them — `edge config
set`, the sqlite3 shell, a provisioning script — and subscribed apps hear of it.

Changes are found by polling `PRAGMA data_version`, which moves whenever
another connection commits to the file; only then is the table read again and
diffed against the last read (value, version and metadata all count), so a
writer that forgets to bump `version` is still noticed. Every call runs on
aiosqlite's thread, never on the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, ClassVar

import aiosqlite

from edge.components.configuration.base import ConfigurationItem, ConfigurationStore, text
from edge.components.metadata import Field
from edge.components.sqlitefile import open_shared, sql_name

log = logging.getLogger("edge.configuration.sqlite")

_CHUNK = 500


def table_name(meta: dict[str, Any]) -> str:
    return sql_name({"tableName": meta.get("tableName") or "configuration"}, "tableName")


def schema(table: str) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table} ("
            " key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL DEFAULT '',"
            " version TEXT NOT NULL DEFAULT '', metadata TEXT NOT NULL DEFAULT '{}')")


def sqlite_target(conn: str) -> tuple[str, bool]:
    """The database argument for sqlite3 and whether it is a URI."""
    conn = conn.strip()
    return conn, conn.startswith("file:")


def item_from_row(key: str, value: Any, version: Any, metadata: Any) -> ConfigurationItem:
    return ConfigurationItem(text(value), text(version), parse_item_metadata(key, metadata))


def parse_item_metadata(key: str, raw: Any) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    try:
        found = json.loads(raw)
    except (TypeError, ValueError):
        found = None
    if not isinstance(found, dict):
        # Written by hand with the sqlite3 shell, most likely; the item still counts.
        log.warning("configuration item %r: metadata %r is not a JSON object; ignored", key, raw)
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}


class SQLiteConfigurationStore(ConfigurationStore):
    type_name: ClassVar[str] = "configuration.sqlite"
    description: ClassVar[str] = (
        "Configuration items in a table of a local SQLite file (edge addition); changes by "
        "any process that writes the file are pushed to subscribers.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("connectionString", required=True, description="file path or file: URI"),
        Field("tableName", default="configuration",
              description="table of key, value, version, metadata (JSON object); "
                          "created when missing"),
        Field("pollInterval", "duration", default=0.25,
              description="how often the file is checked for commits by other processes"),
        Field("busyTimeout", "duration", default=2.0,
              description="how long to wait for a lock held by another process"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table = table_name(self.meta)
        self._db: aiosqlite.Connection | None = None
        self._data_version: int | None = None
        # One connection, used by the API and the watcher alike.
        self._lock = asyncio.Lock()

    async def init(self) -> None:
        async def prepare(db: aiosqlite.Connection) -> None:
            await db.execute(schema(self.table))

        self._db = await open_shared(self.meta["connectionString"],
                                     float(self.meta["busyTimeout"]), True, prepare)

    async def close(self) -> None:
        await super().close()
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "configuration.sqlite used before init"
        return self._db

    async def get(self, keys: list[str], metadata: dict[str, str]) -> dict[str, ConfigurationItem]:
        if not keys:
            return await self.snapshot()
        found: dict[str, ConfigurationItem] = {}
        unique = list(dict.fromkeys(keys))
        async with self._lock:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                async with self.db.execute(
                        f"SELECT key, value, version, metadata FROM {self.table}"
                        f" WHERE key IN ({marks})", chunk) as cursor:
                    for row in await cursor.fetchall():
                        found[text(row[0])] = item_from_row(text(row[0]), *row[1:])
        return found

    async def snapshot(self) -> dict[str, ConfigurationItem]:
        async with self._lock, self.db.execute(
                f"SELECT key, value, version, metadata FROM {self.table}") as cursor:
            rows = await cursor.fetchall()
        return {text(r[0]): item_from_row(text(r[0]), *r[1:]) for r in rows}

    async def poll(self) -> dict[str, ConfigurationItem] | None:
        async with self._lock, self.db.execute("PRAGMA data_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version == self._data_version:
            return None
        self._data_version = version
        return await self.snapshot()
