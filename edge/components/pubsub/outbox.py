"""Store-and-forward: a durable outbox in front of a broker.

put() returns once the message is in a SQLite file on disk (WAL,
synchronous=FULL), so what a publisher was told is accepted survives a broker
outage, a restart and a kill -9. A Forwarder hands the rows to the broker
client in id order, a window at a time, and each row is deleted once the
broker acknowledged it. Nothing here knows MQTT: a sender is any function that
takes a row and answers a future resolved on the broker's acknowledgement.

Group commit: puts and deletes that pile up while one transaction is being
written go into the next one together, so a burst of publishers shares one
fsync instead of queueing for one each.

One sidecar, one outbox: the file is locked (flock) while open. A second
sidecar of the same app on the same edge home takes the next free slot
(`name.db`, `name-2.db`, ...) instead of forwarding the same rows twice; a
restarted sidecar takes the first free slot again, and with it the client
identity stored there (see `setting`)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger("edge.pubsub.outbox")

_MAX_SLOTS = 16
# Acknowledged rows are deleted in batches: after this many, or this long after
# the first one, whichever comes first (a put's commit takes them along anyway).
_DELETE_BATCH = 256
_DELETE_DELAY = 0.05
_SQL_CHUNK = 500
_FRESH_BYTES = 4 * 1024 * 1024
_NOT_READY_PAUSE = 0.05


class OutboxFull(Exception):
    """The outbox reached one of its limits; the message was not stored."""


class OutboxBusy(Exception):
    """Every slot of this outbox is held by another running process."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_messages: int
    max_bytes: int
    # Seconds; rows older than this that were not handed to the broker yet are
    # dropped (with a warning and a counter). 0 keeps them for ever.
    max_age: float = 0.0


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    topic: str
    payload: bytes
    meta: dict[str, Any]
    created: float
    size: int


@dataclass(slots=True)
class _Put:
    topic: str
    payload: bytes
    meta: dict[str, Any]
    meta_json: str
    created: float
    size: int
    done: asyncio.Future[None]


def record_size(topic: str, payload: bytes) -> int:
    return len(payload) + len(topic.encode("utf-8"))


class Outbox:
    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self._db: aiosqlite.Connection | None = None
        self._lock_fd: int | None = None
        # Serialises transactions with the forwarder's reads, so a read never
        # sees rows of a transaction that may still roll back.
        self._io = asyncio.Lock()
        self._puts: list[_Put] = []
        self._done: list[Row] = []
        self._wake = asyncio.Event()
        self._more = asyncio.Event()
        self._delete_timer: asyncio.TimerHandle | None = None
        self._delete_due = False
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._cursor = 0  # rows up to this id were handed out
        self._next_id = 1
        # Rows just committed, kept for the forwarder so that the hot path does not
        # read back what it just wrote; a backlog beyond the cap is read from disk.
        self._fresh: deque[Row] = deque()
        self._fresh_bytes = 0
        self._count = 0
        self._bytes = 0
        self._oldest: float | None = None
        self._next_expiry = 0.0
        self.expired = 0

    # -- opening and closing ---------------------------------------------------

    @classmethod
    async def open_free_slot(cls, base: Path, limits: Limits) -> Outbox:
        """The first slot (base, base-2, ...) no running process holds."""
        for n in range(1, _MAX_SLOTS + 1):
            path = base if n == 1 else base.with_name(f"{base.stem}-{n}{base.suffix}")
            outbox = cls(path, limits)
            try:
                await outbox.open()
            except OutboxBusy:
                continue
            return outbox
        raise OutboxBusy(f"all {_MAX_SLOTS} outbox slots of {base} are in use")

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.path.with_name(self.path.name + ".lock"))
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._prepare()
        except BaseException:
            await self._release()
            raise
        self._writer = asyncio.create_task(self._write_loop(), name=f"outbox {self.path.name}")

    async def _prepare(self) -> None:
        db = self.db
        await db.execute("PRAGMA journal_mode = WAL")
        # FULL: a row is on disk before put() returns, even across a power cut.
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, meta TEXT NOT NULL,"
            " created REAL NOT NULL, size INTEGER NOT NULL)")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        rows = await db.execute_fetchall(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created), COALESCE(MAX(id), 0),"
            " (SELECT seq FROM sqlite_sequence WHERE name = 'outbox') FROM outbox")
        self._count, self._bytes, self._oldest, last, ever = next(iter(rows))
        # Ids keep growing across deletions and restarts (AUTOINCREMENT's counter).
        self._next_id = max(last, ever or 0) + 1
        if self._count:
            log.info("outbox %s: %d messages from before the restart will be sent",
                     self.path, self._count)

    async def close(self) -> None:
        """Write what is pending (puts and deletes), then release the file."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self._release()

    async def _release(self) -> None:
        if self._delete_timer is not None:
            self._delete_timer.cancel()
        if self._db is not None:
            await self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "outbox used before open()"
        return self._db

    # -- the publisher's side -----------------------------------------------------

    async def put(self, topic: str, payload: bytes, meta: dict[str, Any] | None = None) -> None:
        """Return once the row is durable; OutboxFull when a limit is reached."""
        if self._closing:
            raise RuntimeError("outbox is closed")
        size = record_size(topic, payload)
        self._check_room(size)
        meta = meta or {}
        put = _Put(topic, payload, meta, json.dumps(meta, separators=(",", ":")), time.time(),
                   size, asyncio.get_running_loop().create_future())
        self._puts.append(put)
        # Counted at once, so that concurrent puts cannot overshoot the limits.
        self._count += 1
        self._bytes += size
        if self._oldest is None:
            self._oldest = put.created
        self._wake.set()
        await put.done

    def _check_room(self, size: int) -> None:
        if self._count + 1 > self.limits.max_messages:
            raise OutboxFull(f"outbox full: {self._count} messages waiting for the broker "
                             f"(outboxMaxMessages {self.limits.max_messages})")
        if self._bytes + size > self.limits.max_bytes:
            raise OutboxFull(f"outbox full: {self._bytes} bytes waiting for the broker, "
                             f"{size} more would pass outboxMaxBytes {self.limits.max_bytes}")

    # -- the forwarder's side -----------------------------------------------------

    async def take(self, limit: int) -> list[Row]:
        """The next rows after those handed out already, oldest first; waits for some."""
        while True:
            # Cleared before looking: a commit landing after the look sets it again.
            self._more.clear()
            # Under the lock: an expiry in progress may be deleting fresh rows.
            async with self._io:
                fresh = self._take_fresh(limit)
                if fresh:
                    return fresh
                rows = await self.db.execute_fetchall(
                    "SELECT id, topic, payload, meta, created, size FROM outbox"
                    " WHERE id > ? ORDER BY id LIMIT ?", (self._cursor, limit))
                if rows:
                    taken = [Row(r[0], r[1], bytes(r[2]), json.loads(r[3]), r[4], r[5])
                             for r in rows]
                    self._cursor = taken[-1].id
                    return taken
            await self._more.wait()

    def _take_fresh(self, limit: int) -> list[Row]:
        """Rows from memory, as long as they continue the cursor without a gap."""
        while self._fresh and self._fresh[0].id <= self._cursor:
            self._drop_fresh()
        taken: list[Row] = []
        while self._fresh and len(taken) < limit and self._fresh[0].id == self._cursor + 1:
            taken.append(self._drop_fresh())
            self._cursor = taken[-1].id
        return taken

    def _drop_fresh(self) -> Row:
        row = self._fresh.popleft()
        self._fresh_bytes -= row.size
        return row

    def give_back(self, row: Row) -> None:
        """The row and those after it were not handed over after all: take them again."""
        self._cursor = min(self._cursor, row.id - 1)
        self._more.set()

    def done(self, row: Row) -> None:
        """The broker acknowledged the row: it is deleted with the next batch."""
        self._done.append(row)
        self._count -= 1
        self._bytes -= row.size
        if self._count == 0:
            self._oldest = None
        if len(self._done) >= _DELETE_BATCH:
            self._wake.set()
        elif self._delete_timer is None:
            self._delete_timer = asyncio.get_running_loop().call_later(
                _DELETE_DELAY, self._deletes_due)

    def _deletes_due(self) -> None:
        self._delete_timer = None
        self._delete_due = True
        self._wake.set()

    # -- what /v1.0/metadata shows ------------------------------------------------

    @property
    def depth(self) -> int:
        return self._count

    def oldest_age(self) -> float:
        return max(0.0, time.time() - self._oldest) if self._oldest is not None else 0.0

    # -- small persistent settings (a client identity, for instance) --------------

    async def setting(self, key: str, make: Callable[[], str]) -> str:
        """The value stored under key, stored first from make() if there is none."""
        async with self._io:
            await self.db.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (key, make()))
            rows = await self.db.execute_fetchall(
                "SELECT value FROM settings WHERE key = ?", (key,))
        return str(next(iter(rows))[0])

    # -- the writer ---------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._work_or_expiry()
            self._wake.clear()
            puts, self._puts = self._puts, []
            done: list[Row] = []
            if len(self._done) >= _DELETE_BATCH or self._delete_due or self._closing:
                done, self._done = self._done, []
                self._delete_due = False
            try:
                await self._commit(puts, done)
            except Exception as exc:  # a disk or database failure: the puts fail, not the loop
                self._failed(puts, done, exc)
                if self._closing:
                    # What is left are deletes only: those rows are sent again
                    # on the next start (duplicates, nothing lost).
                    self._fail_pending(exc)
                    return
                await asyncio.sleep(0.1)
            if self._closing and not self._puts and not self._done:
                return

    async def _work_or_expiry(self) -> None:
        if self.limits.max_age <= 0:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, self._next_expiry - time.time()))

    async def _commit(self, puts: list[_Put], done: list[Row]) -> None:
        now = time.time()
        expire = self.limits.max_age > 0 and now >= self._next_expiry
        if expire and self._count == len(puts):
            # Nothing older than these puts is waiting: no need to look.
            self._next_expiry = now + self._expiry_interval()
            expire = False
        if not puts and not done and not expire:
            return
        async with self._io:
            db = self.db
            await db.execute("BEGIN IMMEDIATE")
            try:
                if puts:
                    await db.executemany(
                        "INSERT INTO outbox (id, topic, payload, meta, created, size)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [(self._next_id + n, p.topic, p.payload, p.meta_json, p.created, p.size)
                         for n, p in enumerate(puts)])
                await self._delete(db, [row.id for row in done])
                expired = await self._expire(db, now) if expire else []
                await db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(aiosqlite.Error):
                    await db.execute("ROLLBACK")
                raise
            if done or expired:
                # Committed already: a failure here must not fail the puts.
                with contextlib.suppress(aiosqlite.Error):
                    await self._refresh_oldest(db)
        self._expired(expired)
        self._committed(puts)

    def _committed(self, puts: list[_Put]) -> None:
        for put in puts:
            if self._fresh_bytes < _FRESH_BYTES:
                self._fresh.append(Row(self._next_id, put.topic, put.payload, put.meta,
                                       put.created, put.size))
                self._fresh_bytes += put.size
            self._next_id += 1
            if not put.done.done():
                put.done.set_result(None)
        if puts:
            self._more.set()

    async def _delete(self, db: aiosqlite.Connection, ids: list[int]) -> None:
        for start in range(0, len(ids), _SQL_CHUNK):
            chunk = ids[start:start + _SQL_CHUNK]
            await db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})",
                             chunk)

    async def _expire(self, db: aiosqlite.Connection, now: float) -> list[int]:
        """Drop rows past outboxMaxAge that were not handed to the broker yet
        (those that were are the broker client's to finish)."""
        self._next_expiry = now + self._expiry_interval()
        rows = await db.execute_fetchall(
            "DELETE FROM outbox WHERE created < ? AND id > ? RETURNING id, size",
            (now - self.limits.max_age, self._cursor))
        gone = {int(r[0]) for r in rows}
        if gone:
            self._fresh = deque(row for row in self._fresh if row.id not in gone)
            self._fresh_bytes = sum(row.size for row in self._fresh)
        return [int(r[1]) for r in rows]

    def _expiry_interval(self) -> float:
        return min(max(self.limits.max_age / 10, 0.05), 10.0)

    def _expired(self, sizes: list[int]) -> None:
        if not sizes:
            return
        self.expired += len(sizes)
        self._count -= len(sizes)
        self._bytes -= sum(sizes)
        log.warning("outbox %s: %d messages older than outboxMaxAge (%gs) dropped unsent "
                    "(%d so far)", self.path, len(sizes), self.limits.max_age, self.expired)

    async def _refresh_oldest(self, db: aiosqlite.Connection) -> None:
        rows = list(await db.execute_fetchall("SELECT created FROM outbox ORDER BY id LIMIT 1"))
        # Rows put but not committed yet are younger than any committed one.
        pending = min((p.created for p in self._puts), default=None)
        self._oldest = rows[0][0] if rows else pending

    def _fail_pending(self, exc: BaseException) -> None:
        puts, self._puts = self._puts, []
        self._failed(puts, [], exc)

    def _failed(self, puts: list[_Put], done: list[Row], exc: BaseException) -> None:
        log.error("outbox %s: writing failed: %s", self.path, exc)
        for put in puts:
            self._count -= 1
            self._bytes -= put.size
            if not put.done.done():
                put.done.set_exception(OSError(f"outbox write failed: {exc}"))
        # Deletes are only bookkeeping: try them again with the next batch.
        self._done = done + self._done
        if self._count == 0:
            self._oldest = None


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutboxBusy(f"{path} is held by another process") from None
    return fd


class Forwarder:
    """Hands outbox rows to `send` in id order, at most `window` of them
    unacknowledged at a time. `send` answers a future that resolves when the
    broker acknowledged the row, or raises NotReady when it cannot take the row
    now (that row and the ones after it are taken again once `ready` is set)."""

    def __init__(self, outbox: Outbox, send: Callable[[Row], asyncio.Future[None]],
                 window: int, ready: asyncio.Event) -> None:
        self.outbox = outbox
        self.send = send
        self.window = window
        self.ready = ready
        self.inflight = 0
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"forwarder {self.outbox.path.name}")

    async def stop(self, drain: float) -> None:
        """Stop handing rows out, then wait up to `drain` seconds for the
        acknowledgements of those in flight (each one missing is sent again
        on the next start, which the broker may see as a duplicate)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = time.monotonic() + drain
        while self.inflight and time.monotonic() < deadline:
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), deadline - time.monotonic())

    async def _run(self) -> None:
        while True:
            while self.inflight >= self.window:
                self._room.clear()
                await self._room.wait()
            await self.ready.wait()
            rows = await self.outbox.take(self.window - self.inflight)
            if not self._hand_over(rows):
                # `ready` may not have caught up with the sender yet.
                await asyncio.sleep(_NOT_READY_PAUSE)

    def _hand_over(self, rows: list[Row]) -> bool:
        for row in rows:
            try:
                acked = self.send(row)
            except NotReady:
                self.outbox.give_back(row)
                return False
            self.inflight += 1
            acked.add_done_callback(lambda fut, row=row: self._settled(row, fut))
        return True

    def _settled(self, row: Row, fut: asyncio.Future[None]) -> None:
        self.inflight -= 1
        self._room.set()
        if not fut.cancelled() and fut.exception() is None:
            self.outbox.done(row)


class NotReady(Exception):
    """The sender cannot take a row now (no connection); try again when ready."""
