"""lock.sqlite: locks in one SQLite file, shared by every sidecar on the
device that names the same file.

Each acquire is one write transaction (BEGIN IMMEDIATE), so two processes
can never both see a lock as free. Expiry is wall-clock time, because the
processes share no other clock; an expired row counts as free and is
overwritten in place, and a periodic sweep removes the rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiosqlite

from edge.components.base import ComponentContext
from edge.components.lock.base import KEY_PREFIX_FIELD, LockStore, UnlockStatus
from edge.components.metadata import Field
from edge.components.sqlitefile import open_shared, sql_name
from edge.errors import ConfigError

log = logging.getLogger("edge.lock.sqlite")



class SQLiteLockStore(LockStore):
    type_name: ClassVar[str] = "lock.sqlite"
    description: ClassVar[str] = ("Locks in a local SQLite file, shared by the sidecars "
                                  "(processes) of one device that use the same file.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("connectionString", required=True,
              description="file path or file: URI; sidecars naming the same file share locks"),
        Field("tableName", default="locks", description="table holding the locks"),
        Field("busyTimeout", "duration", default=5.0,
              description="how long to wait for another process's write to finish"),
        Field("cleanupInterval", "duration", default=600.0,
              description="how often expired locks are deleted; 0 or less disables it"),
        Field("disableWAL", "bool", default=False,
              description="use the rollback journal instead of write-ahead logging"),
        KEY_PREFIX_FIELD,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.table = sql_name(self.meta, "tableName")
        if self.meta["busyTimeout"] < 0:
            raise ConfigError("must not be negative", field="busyTimeout")
        self._db: aiosqlite.Connection | None = None
        # One connection serves every request; a transaction's statements
        # must not interleave with another coroutine's on it.
        self._lock = asyncio.Lock()
        self._cleanup: asyncio.Task[None] | None = None

    async def init(self) -> None:
        self._db = await open_shared(self.meta["connectionString"],
                                     float(self.meta["busyTimeout"]),
                                     not self.meta["disableWAL"], self._prepare)
        if self.meta["cleanupInterval"] > 0:
            self._cleanup = asyncio.create_task(self._clean_expired())

    async def _prepare(self, db: aiosqlite.Connection) -> None:
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " key TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL,"
            " expires_at REAL NOT NULL)")

    async def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup
            self._cleanup = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "lock.sqlite used before init"
        return self._db

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction on the file, taken at once (BEGIN IMMEDIATE) so
        that what it reads can't change before it writes."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                await self.db.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT: the connection must not stay
                # inside a transaction, holding the file's write lock.
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise

    async def try_lock(self, key: str, owner: str, expiry_seconds: int) -> bool:
        async with self._transaction() as db:
            now = time.time()
            # Inserted when free, overwritten when expired, untouched when held.
            cursor = await db.execute(
                f"INSERT INTO {self.table} (key, owner, expires_at) VALUES (?, ?, ?)"
                f" ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
                f" expires_at = excluded.expires_at WHERE {self.table}.expires_at <= ?",
                (key, owner, now + expiry_seconds, now))
            return cursor.rowcount == 1

    async def unlock(self, key: str, owner: str) -> UnlockStatus:
        async with self._transaction() as db:
            now = time.time()
            async with db.execute(f"SELECT owner, expires_at FROM {self.table} WHERE key = ?",
                                  (key,)) as cursor:
                row = await cursor.fetchone()
            if row is None or row[1] <= now:
                return UnlockStatus.LOCK_DOES_NOT_EXIST
            if row[0] != owner:
                return UnlockStatus.LOCK_BELONGS_TO_OTHERS
            await db.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))
            return UnlockStatus.SUCCESS

    async def _clean_expired(self) -> None:
        while True:
            await asyncio.sleep(self.meta["cleanupInterval"])
            try:
                async with self._transaction() as db:
                    await db.execute(f"DELETE FROM {self.table} WHERE expires_at <= ?",
                                     (time.time(),))
            except sqlite3.Error:
                log.exception("lock store %s: deleting expired locks failed", self.name)
