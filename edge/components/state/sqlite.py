"""state.sqlite: state in one SQLite file (aiosqlite), with etags, TTL,
transactions and the query API over JSON values."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar

import aiosqlite

from edge.components.metadata import Field
from edge.components.sqlitefile import open_shared, sql_name
from edge.components.state.base import (
    COMMON_FIELDS,
    DeleteOp,
    EtagMismatch,
    Query,
    Queryable,
    QueryResult,
    SetOp,
    StateStore,
    StoredItem,
    Transactional,
    TTLSupport,
)
from edge.components.state.query import QueryError, compile_query

log = logging.getLogger("edge.state.sqlite")

_NOT_EXPIRED = "(expiration_time IS NULL OR expiration_time > ?)"
_BULK_CHUNK = 500


class SQLiteStateStore(StateStore, Transactional, TTLSupport, Queryable):
    type_name: ClassVar[str] = "state.sqlite"
    description: ClassVar[str] = "State in a local SQLite file; survives restarts (WAL by default)."
    fields: ClassVar[tuple[Field, ...]] = (
        Field("connectionString", required=True,
              description="file path, file: URI, or :memory:"),
        Field("tableName", default="state", description="table holding the state"),
        Field("metadataTableName", default="metadata",
              description="table holding the store's own bookkeeping"),
        Field("timeout", "duration", default=20.0, description="timeout for one operation"),
        Field("busyTimeout", "duration", default=2.0,
              description="how long to wait for a lock held by another process"),
        Field("cleanupInterval", "duration", default=3600.0,
              description="how often expired items are deleted; 0 or less disables it"),
        Field("disableWAL", "bool", default=False,
              description="use the rollback journal instead of write-ahead logging"),
        *COMMON_FIELDS,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._db: aiosqlite.Connection | None = None
        # One connection serves every call; the lock keeps a transaction's
        # statements from interleaving with another coroutine's.
        self._lock = asyncio.Lock()
        self._cleanup: asyncio.Task[None] | None = None
        self.table = sql_name(self.meta, "tableName")
        self.meta_table = sql_name(self.meta, "metadataTableName")

    async def init(self) -> None:
        self._db = await open_shared(self.meta["connectionString"], self.meta["busyTimeout"],
                                     not self.meta["disableWAL"], self._prepare)
        if self.meta["cleanupInterval"] > 0:
            self._cleanup = asyncio.create_task(self._clean_expired())

    async def _prepare(self, db: aiosqlite.Connection) -> None:
        # FULL: a write is on disk before it is acknowledged, even across a power cut,
        # which gateways see far more often than servers do.
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " key TEXT NOT NULL PRIMARY KEY, value NOT NULL,"
            " is_binary INTEGER NOT NULL DEFAULT 0, etag TEXT NOT NULL,"
            " expiration_time REAL, update_time REAL NOT NULL)")
        await db.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_expiration"
            f" ON {self.table} (expiration_time) WHERE expiration_time IS NOT NULL")
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.meta_table} (key TEXT PRIMARY KEY, value TEXT)")
        await db.execute(
            f"INSERT OR IGNORE INTO {self.meta_table} VALUES ('schema-version', '1')")

    async def close(self) -> None:
        if self._cleanup:
            self._cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "state.sqlite used before init"
        return self._db

    async def _clean_expired(self) -> None:
        while True:
            await asyncio.sleep(self.meta["cleanupInterval"])
            try:
                async with self._exclusive() as db:
                    await db.execute(
                        f"DELETE FROM {self.table} WHERE expiration_time <= ?", (time.time(),))
            except (aiosqlite.Error, TimeoutError):
                log.exception("state store %s: cleaning expired items failed", self.name)

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, to this caller alone and for at most `timeout`.
        Reads take the lock too: they must not see another call's
        transaction half done on the shared connection."""
        async with self._lock, asyncio.timeout(self.meta["timeout"]):
            yield self.db

    async def get(self, key: str) -> StoredItem | None:
        async with self._exclusive() as db:
            rows = await db.execute_fetchall(
                f"SELECT value, etag, is_binary, expiration_time FROM {self.table}"
                f" WHERE key = ? AND {_NOT_EXPIRED}", (key, time.time()))
        return _item(rows[0]) if rows else None

    async def bulk_get(self, keys: list[str]) -> dict[str, StoredItem]:
        found: dict[str, StoredItem] = {}
        for start in range(0, len(keys), _BULK_CHUNK):
            chunk = keys[start:start + _BULK_CHUNK]
            marks = ",".join("?" * len(chunk))
            async with self._exclusive() as db:
                rows = await db.execute_fetchall(
                    f"SELECT key, value, etag, is_binary, expiration_time FROM {self.table}"
                    f" WHERE key IN ({marks}) AND {_NOT_EXPIRED}", (*chunk, time.time()))
            found.update((row[0], _item(row[1:])) for row in rows)
        return found

    async def set(self, op: SetOp) -> None:
        async with self._exclusive():
            await self._set(op, time.time())

    async def delete(self, op: DeleteOp) -> None:
        async with self._exclusive():
            await self._delete(op, time.time())

    async def transact(self, ops: list[SetOp | DeleteOp]) -> None:
        async with self._exclusive():
            await self._transact(ops)

    async def _transact(self, ops: list[SetOp | DeleteOp]) -> None:
        now = time.time()
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                if isinstance(op, SetOp):
                    await self._set(op, now)
                else:
                    await self._delete(op, now)
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    async def _set(self, op: SetOp, now: float) -> None:
        expires = now + op.ttl if op.ttl is not None and op.ttl >= 0 else None
        etag = str(uuid.uuid4())
        # Binary values are kept as BLOBs, JSON as TEXT so that json_extract can read it.
        value: bytes | str = op.value if op.is_binary else op.value.decode("utf-8")
        params = (value, int(op.is_binary), etag, expires, now)
        if op.etag is not None:
            cursor = await self.db.execute(
                f"UPDATE {self.table} SET value = ?, is_binary = ?, etag = ?,"
                f" expiration_time = ?, update_time = ? WHERE key = ? AND etag = ?"
                f" AND {_NOT_EXPIRED}", (*params, op.key, op.etag, now))
            if cursor.rowcount != 1:
                raise EtagMismatch(op.key)
            return
        # Without an etag, first-write only inserts (an expired item counts as absent);
        # last-write replaces whatever is there.
        sql = (f"INSERT INTO {self.table} (value, is_binary, etag, expiration_time, update_time,"
               " key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
               " value = excluded.value, is_binary = excluded.is_binary, etag = excluded.etag,"
               " expiration_time = excluded.expiration_time, update_time = excluded.update_time")
        args: tuple[Any, ...] = (*params, op.key)
        if op.first_write:
            sql += f" WHERE {self.table}.expiration_time <= ?"
            args += (now,)
        cursor = await self.db.execute(sql, args)
        if cursor.rowcount != 1:
            raise EtagMismatch(op.key)

    async def _delete(self, op: DeleteOp, now: float) -> None:
        if op.etag is None:
            await self.db.execute(f"DELETE FROM {self.table} WHERE key = ?", (op.key,))
            return
        cursor = await self.db.execute(
            f"DELETE FROM {self.table} WHERE key = ? AND etag = ? AND {_NOT_EXPIRED}",
            (op.key, op.etag, now))
        if cursor.rowcount != 1:
            raise EtagMismatch(op.key)

    async def query(self, query: Query, prefix: str) -> QueryResult:
        where, params, order = compile_query(query)
        offset = _offset(query.token)
        scope, scope_args = _key_range(prefix)
        sql = (f"SELECT key, value, etag, is_binary, expiration_time FROM {self.table}"
               f" WHERE is_binary = 0 AND {scope} AND {_NOT_EXPIRED} AND ({where})"
               f" ORDER BY {order}")
        args: list[Any] = [*scope_args, time.time(), *params]
        if query.limit > 0:
            # One row more than asked tells whether another page exists.
            sql += " LIMIT ? OFFSET ?"
            args += [query.limit + 1, offset]
        async with self._exclusive() as db:
            rows = list(await db.execute_fetchall(sql, args))
        more = query.limit > 0 and len(rows) > query.limit
        items = [(row[0][len(prefix):], _item(row[1:])) for row in rows[:query.limit or None]]
        return QueryResult(items, str(offset + query.limit) if more else None)


def _offset(token: str | None) -> int:
    """Page tokens are row offsets."""
    if token is None:
        return 0
    if not (token.isascii() and token.isdigit()):
        raise QueryError(f"invalid page token {token!r}")
    return int(token)


def _key_range(prefix: str) -> tuple[str, list[str]]:
    """Keys starting with prefix, as a range the primary key index can serve."""
    if not prefix:
        return "1", []
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return "key >= ? AND key < ?", [prefix, after]


def _item(row: Iterable[Any]) -> StoredItem:
    value, etag, is_binary, expires = row
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    return StoredItem(data, etag, bool(is_binary), expires)
