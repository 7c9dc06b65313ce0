"""Unit tests for state.in-memory internals a client cannot observe: expired
items are freed even when nobody reads them again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.components.base import ComponentContext
from edge.components.state.base import SetOp
from edge.components.state.inmemory import InMemoryStateStore


def make_store() -> InMemoryStateStore:
    ctx = ComponentContext(app_id="app", namespace="", home=Path("."))
    return InMemoryStateStore("memory", {"keyPrefix": "appid"}, ctx)


async def test_expired_items_are_freed_by_later_writes():
    store = make_store()
    for n in range(100):
        await store.set(SetOp(key=f"short-{n}", value=b"1", ttl=0.01))
    await store.set(SetOp(key="kept", value=b"1", ttl=3600))
    await asyncio.sleep(0.02)
    await store.set(SetOp(key="trigger", value=b"1"))
    assert set(store._items) == {"kept", "trigger"}
    assert len(store._expiries) == 1


async def test_rewritten_item_is_not_dropped_by_its_old_expiry():
    store = make_store()
    await store.set(SetOp(key="k", value=b"1", ttl=0.01))
    await store.set(SetOp(key="k", value=b"2"))
    await asyncio.sleep(0.02)
    await store.set(SetOp(key="other", value=b"1"))
    item = await store.get("k")
    assert item is not None and item.value == b"2"
