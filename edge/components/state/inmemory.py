"""state.in-memory: state in the sidecar's memory, gone when it stops."""

from __future__ import annotations

import time
import uuid
from typing import Any, ClassVar

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


class InMemoryStateStore(StateStore, Transactional, TTLSupport):
    type_name: ClassVar[str] = "state.in-memory"
    description: ClassVar[str] = "State in the sidecar's memory; lost on restart. For tests."
    fields: ClassVar[tuple[Field, ...]] = COMMON_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: dict[str, StoredItem] = {}

    def _live(self, key: str, now: float) -> StoredItem | None:
        item = self._items.get(key)
        if item is not None and item.expires_at is not None and item.expires_at <= now:
            del self._items[key]
            return None
        return item

    async def get(self, key: str) -> StoredItem | None:
        return self._live(key, time.time())

    async def set(self, op: SetOp) -> None:
        self._check_set(op, time.time())
        self._apply_set(op, time.time())

    async def delete(self, op: DeleteOp) -> None:
        self._check_delete(op, time.time())
        self._items.pop(op.key, None)

    async def transact(self, ops: list[SetOp | DeleteOp]) -> None:
        # Check every etag against the state as the earlier operations leave it,
        # then apply; nothing is touched unless all checks pass.
        now = time.time()
        shadow = dict(self._items)
        try:
            for op in ops:
                if isinstance(op, SetOp):
                    self._check_set(op, now)
                    self._apply_set(op, now)
                else:
                    self._check_delete(op, now)
                    self._items.pop(op.key, None)
        except BaseException:
            self._items = shadow
            raise

    def _check_set(self, op: SetOp, now: float) -> None:
        current = self._live(op.key, now)
        if op.etag is not None:
            if current is None or current.etag != op.etag:
                raise EtagMismatch(op.key)
        elif op.first_write and current is not None:
            raise EtagMismatch(op.key)

    def _check_delete(self, op: DeleteOp, now: float) -> None:
        current = self._live(op.key, now)
        if op.etag is not None and (current is None or current.etag != op.etag):
            raise EtagMismatch(op.key)

    def _apply_set(self, op: SetOp, now: float) -> None:
        expires = now + op.ttl if op.ttl is not None and op.ttl >= 0 else None
        self._items[op.key] = StoredItem(op.value, uuid.uuid4().hex, op.is_binary, expires)
