"""Which sidecar hosts an actor: consistent hashing over the sidecars whose
apps registered the actor type, as Dapr's placement service does, but read
from the host's name-resolution registry (SQLite) instead of a placement
server. Every sidecar computes the same ring from the same rows, so they
agree on each actor id's host without talking to each other; when a host
joins or leaves, only the actors of its share of the ring move."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import sqlite3
import time
from pathlib import Path

from edge.runtime.nameresolution import Entry, live_entries

# Points per host on the ring; Dapr's placement uses 100 too, which spreads
# actors evenly over a handful of hosts.
VIRTUAL_NODES = 100
_CACHE_SECONDS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actor_types (
    instance TEXT NOT NULL, actor_type TEXT NOT NULL, PRIMARY KEY (instance, actor_type)
)"""


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class Ring:
    def __init__(self, hosts: list[Entry]) -> None:
        self.hosts = {h.instance: h for h in hosts}
        points = sorted((_hash(f"{h.instance}#{n}"), h.instance)
                        for h in hosts for n in range(VIRTUAL_NODES))
        self._keys = [p[0] for p in points]
        self._owners = [p[1] for p in points]

    def owner(self, actor_id: str) -> Entry | None:
        if not self._keys:
            return None
        index = bisect.bisect(self._keys, _hash(actor_id)) % len(self._keys)
        return self.hosts[self._owners[index]]


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.execute(_SCHEMA)
    return conn


def _types_of(path: Path) -> dict[str, set[str]]:
    conn = _connect(path)
    try:
        found: dict[str, set[str]] = {}
        for instance, actor_type in conn.execute("SELECT instance, actor_type FROM actor_types"):
            found.setdefault(actor_type, set()).add(instance)
        return found
    finally:
        conn.close()


def _execute(path: Path, sql: str, rows: list[tuple[str, ...]]) -> None:
    conn = _connect(path)
    try:
        conn.executemany(sql, rows)
    finally:
        conn.close()


class Placement:
    """This sidecar's view of the actor hosts on this machine."""

    def __init__(self, path: Path, instance: str) -> None:
        self.path = path
        self.instance = instance
        self._rings: dict[str, Ring] = {}
        self._read = 0.0
        self._lock = asyncio.Lock()

    async def register(self, actor_types: list[str]) -> None:
        await asyncio.to_thread(_execute, self.path, "INSERT OR REPLACE INTO actor_types "
                                "VALUES (?, ?)", [(self.instance, t) for t in actor_types])
        await self.refresh()

    async def deregister(self) -> None:
        await asyncio.to_thread(_execute, self.path, "DELETE FROM actor_types WHERE instance = ?",
                                [(self.instance,)])

    async def refresh(self) -> dict[str, Ring]:
        """Read the hosts again: the sidecars alive now, by the types they host."""
        async with self._lock:
            entries = await asyncio.to_thread(live_entries, self.path)
            types = await asyncio.to_thread(_types_of, self.path)
            alive = {e.instance: e for e in entries}
            self._rings = {t: Ring([alive[i] for i in sorted(hosts) if i in alive])
                           for t, hosts in types.items()}
            self._read = time.monotonic()
            return self._rings

    async def owner(self, actor_type: str, actor_id: str) -> Entry | None:
        if time.monotonic() - self._read > _CACHE_SECONDS:
            await self.refresh()
        ring = self._rings.get(actor_type)
        return ring.owner(actor_id) if ring else None

    def owns(self, actor_type: str, actor_id: str) -> bool:
        """By the last view read: is this sidecar the actor's host?"""
        ring = self._rings.get(actor_type)
        owner = ring.owner(actor_id) if ring else None
        return owner is not None and owner.instance == self.instance
