"""state.in-memory: state in the sidecar's memory, gone when it stops.

Every method runs without awaiting, so on the event loop each call (and
each transaction) is atomic with no lock."""

from __future__ import annotations

import heapq
import time
import uuid
from typing import Any, ClassVar

from edge.components.base import ComponentContext
from edge.components.metadata import Field
from edge.components.state.base import (
    COMMON_FIELDS,
    DeleteOp,
    EtagMismatch,
    SetOp,
    StateStore,
    StoredItem,
    Transactional,
    TTLSupport,
)

# Pending writes of a transaction: an item, or None for a delete.
_Overlay = dict[str, StoredItem | None]


class InMemoryStateStore(StateStore, Transactional, TTLSupport):
    type_name: ClassVar[str] = "state.in-memory"
    description: ClassVar[str] = "State in the sidecar's memory; lost on restart. For tests."
    fields: ClassVar[tuple[Field, ...]] = COMMON_FIELDS

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self._items: dict[str, StoredItem] = {}
        # (expiry, key) of every item saved with a ttl, soonest first, so that
        # expired items are dropped even if nobody reads them again.
        self._expiries: list[tuple[float, str]] = []

    async def get(self, key: str) -> StoredItem | None:
        return self._live(key, time.time())

    async def set(self, op: SetOp) -> None:
        now = time.time()
        self._check_set(op, self._live(op.key, now))
        self._store(op.key, self._new_item(op, now))
        self._sweep(now)

    async def delete(self, op: DeleteOp) -> None:
        now = time.time()
        self._check_delete(op, self._live(op.key, now))
        self._items.pop(op.key, None)

    async def transact(self, ops: list[SetOp | DeleteOp]) -> None:
        # Each check sees the state as the earlier operations leave it; nothing
        # is applied unless every check passes.
        now = time.time()
        pending: _Overlay = {}
        for op in ops:
            current = pending[op.key] if op.key in pending else self._live(op.key, now)
            if isinstance(op, SetOp):
                self._check_set(op, current)
                pending[op.key] = self._new_item(op, now)
            else:
                self._check_delete(op, current)
                pending[op.key] = None
        for key, item in pending.items():
            if item is None:
                self._items.pop(key, None)
            else:
                self._store(key, item)
        self._sweep(now)

    def _live(self, key: str, now: float) -> StoredItem | None:
        item = self._items.get(key)
        if item is not None and item.expires_at is not None and item.expires_at <= now:
            del self._items[key]
            return None
        return item

    @staticmethod
    def _check_set(op: SetOp, current: StoredItem | None) -> None:
        if op.etag is not None:
            if current is None or current.etag != op.etag:
                raise EtagMismatch(op.key)
        elif op.first_write and current is not None:
            raise EtagMismatch(op.key)

    @staticmethod
    def _check_delete(op: DeleteOp, current: StoredItem | None) -> None:
        if op.etag is not None and (current is None or current.etag != op.etag):
            raise EtagMismatch(op.key)

    @staticmethod
    def _new_item(op: SetOp, now: float) -> StoredItem:
        expires = now + op.ttl if op.ttl is not None and op.ttl >= 0 else None
        return StoredItem(op.value, str(uuid.uuid4()), op.is_binary, expires)

    def _store(self, key: str, item: StoredItem) -> None:
        self._items[key] = item
        if item.expires_at is not None:
            heapq.heappush(self._expiries, (item.expires_at, key))

    def _sweep(self, now: float) -> None:
        """Drop items whose expiry has passed; amortised over writes."""
        while self._expiries and self._expiries[0][0] <= now:
            _, key = heapq.heappop(self._expiries)
            self._live(key, now)  # removes the item only if it is still expired
