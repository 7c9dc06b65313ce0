"""The configuration store interface: get items, and subscribe to their changes.

Both stores edge ships watch something another process may write (a SQLite
file, a YAML file), so change detection is shared here: a store says how to
take a snapshot cheaply, and this class diffs snapshots and hands each
subscription the items that changed, in order, without letting a slow app hold
up the watcher or the other subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edge.components.base import Component
from edge.errors import ConfigError

log = logging.getLogger("edge.configuration")


@dataclass(frozen=True)
class ConfigurationItem:
    value: str
    version: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # Dapr's item leaves out empty fields (Go's omitempty); so do we.
        body: dict[str, Any] = {}
        if self.value:
            body["value"] = self.value
        if self.version:
            body["version"] = self.version
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        return body


# The subscription id and the changed items; None marks a deleted key.
Changes = dict[str, ConfigurationItem | None]
UpdateCallback = Callable[[str, Changes], Awaitable[None]]


class SubscriptionNotFound(KeyError):
    """No subscription with that id on this store."""


def text(value: Any) -> str:
    """A stored scalar as the string Dapr's items carry."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass
class _Subscription:
    id: str
    keys: frozenset[str]
    callback: UpdateCallback
    queue: asyncio.Queue[Changes] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None


class ConfigurationStore(Component):
    block: ClassVar[str] = "configuration"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscriptions: dict[str, _Subscription] = {}
        self._known: dict[str, ConfigurationItem] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        if "pollInterval" in self.meta and not float(self.meta["pollInterval"] or 0) > 0:
            raise ConfigError("must be more than 0 (examples: 250ms, 1s)", field="pollInterval")

    @abstractmethod
    async def get(self, keys: list[str], metadata: dict[str, str]) -> dict[str, ConfigurationItem]:
        """The items with these keys that exist (every item when keys is empty)."""

    @abstractmethod
    async def snapshot(self) -> dict[str, ConfigurationItem]:
        """Every item, as the store holds it now."""

    @abstractmethod
    async def poll(self) -> dict[str, ConfigurationItem] | None:
        """A new snapshot if the store may have changed since the last call, else None."""

    @property
    def poll_interval(self) -> float:
        return float(self.meta.get("pollInterval") or 0.5)

    async def subscribe(self, keys: list[str], metadata: dict[str, str],
                        callback: UpdateCallback) -> str:
        async with self._starting:
            if self._watcher is None:
                # The baseline is taken before the id is returned, so every change
                # made after subscribing is one the app hears about.
                await self.poll()
                self._known = await self.snapshot()
                self._watcher = asyncio.create_task(self._watch(), name=f"watch {self.name}")
        sub = _Subscription(str(uuid.uuid4()), frozenset(keys), callback)
        sub.worker = asyncio.create_task(self._deliver(sub), name=f"config sub {sub.id}")
        self._subscriptions[sub.id] = sub
        log.info("configuration store %s: subscription %s to %s", self.name, sub.id,
                 ", ".join(sorted(keys)) if keys else "all keys")
        return sub.id

    async def unsubscribe(self, subscription_id: str) -> None:
        sub = self._subscriptions.pop(subscription_id, None)
        if sub is None:
            raise SubscriptionNotFound(subscription_id)
        await _cancel(sub.worker)
        if not self._subscriptions:
            # Nobody listens: stop reading the store every fraction of a second.
            watcher, self._watcher = self._watcher, None
            await _cancel(watcher)
        log.info("configuration store %s: subscription %s ended", self.name, subscription_id)

    async def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        await _cancel(watcher)
        subs = list(self._subscriptions.values())
        self._subscriptions.clear()
        for sub in subs:
            await _cancel(sub.worker)

    def status(self) -> dict[str, Any]:
        return {"subscriptions": len(self._subscriptions)} if self._subscriptions else {}

    async def _watch(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                current = await self.poll()
            except Exception as exc:  # a store gone for a moment; keep watching
                if not failing:
                    log.error("configuration store %s: reading changes failed: %s",
                              self.name, exc)
                failing = True
                continue
            if failing:
                log.info("configuration store %s: reading changes works again", self.name)
                failing = False
            if current is not None:
                self._dispatch(current)

    def _dispatch(self, current: dict[str, ConfigurationItem]) -> None:
        changes: Changes = {k: v for k, v in current.items() if self._known.get(k) != v}
        changes.update({k: None for k in self._known if k not in current})
        self._known = current
        if not changes:
            return
        for sub in self._subscriptions.values():
            mine = {k: v for k, v in changes.items() if not sub.keys or k in sub.keys}
            if mine:
                sub.queue.put_nowait(mine)

    async def _deliver(self, sub: _Subscription) -> None:
        while True:
            changes = await sub.queue.get()
            try:
                await sub.callback(sub.id, changes)
            except Exception:
                log.exception("configuration store %s: delivering to subscription %s failed",
                              self.name, sub.id)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None or task is asyncio.current_task():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
