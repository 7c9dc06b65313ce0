"""lock.in-memory: locks in the sidecar's memory, for one sidecar only.

Dapr's type of this name is a placeholder that grants every lock; this one
really excludes, so an app tested against it behaves as with lock.sqlite.
No method awaits, so each call is atomic on the event loop without a lock."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from edge.components.base import ComponentContext
from edge.components.lock.base import KEY_PREFIX_FIELD, LockStore, UnlockStatus
from edge.components.metadata import Field

# Expired locks are dropped in one sweep at most this often, so a sidecar
# that takes many short-lived locks doesn't grow without bound.
_SWEEP_EVERY = 60.0


class InMemoryLockStore(LockStore):
    type_name: ClassVar[str] = "lock.in-memory"
    description: ClassVar[str] = ("Locks in the sidecar's memory: one sidecar only, "
                                  "released on restart.")
    fields: ClassVar[tuple[Field, ...]] = (KEY_PREFIX_FIELD,)

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        # key -> (owner, monotonic expiry): one process, so the clock need not be the wall's.
        self._locks: dict[str, tuple[str, float]] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY

    def _held(self, key: str, now: float) -> tuple[str, float] | None:
        entry = self._locks.get(key)
        if entry is not None and entry[1] <= now:
            del self._locks[key]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        for key in [k for k, (_, expires) in self._locks.items() if expires <= now]:
            del self._locks[key]

    async def try_lock(self, key: str, owner: str, expiry_seconds: int) -> bool:
        now = time.monotonic()
        self._sweep(now)
        if self._held(key, now) is not None:
            return False
        self._locks[key] = (owner, now + expiry_seconds)
        return True

    async def unlock(self, key: str, owner: str) -> UnlockStatus:
        entry = self._held(key, time.monotonic())
        if entry is None:
            return UnlockStatus.LOCK_DOES_NOT_EXIST
        if entry[0] != owner:
            return UnlockStatus.LOCK_BELONGS_TO_OTHERS
        del self._locks[key]
        return UnlockStatus.SUCCESS
