"""The state store interface and the optional abilities a store opts into."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edge.components.base import Component, ComponentContext
from edge.components.metadata import Field
from edge.errors import ConfigError

KEY_SEPARATOR = "||"

# Declared by every state store: how keys are prefixed, and whether actors
# may keep their state here.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("keyPrefix", default="appid",
          description="appid, name, namespace, none, or any other text used as a fixed prefix"),
    Field("actorStateStore", "bool", default=False,
          description="use this store for actor state (one store per sidecar)"),
    Field("outboxPublishPubsub", default="",
          description="transactional outbox: the pub/sub component that gets each upsert of a "
          "transaction once it is committed"),
    Field("outboxPublishTopic", default="",
          description="transactional outbox: the topic (needed with outboxPublishPubsub)"),
    Field("outboxPubsub", default="",
          description="accepted for Dapr compatibility (edge needs no coordination topic)"),
    Field("outboxDiscardWhenMissingState", "bool", default=False,
          description="accepted for Dapr compatibility"),
)


class EtagMismatch(Exception):
    """The etag given does not match the stored item (or the item is gone)."""

    permanent = True  # trying again cannot help (edge.runtime.resiliency)


class EtagInvalid(Exception):
    """The etag given cannot be an etag of this store."""

    permanent = True  # trying again cannot help (edge.runtime.resiliency)


@dataclass(slots=True)
class StoredItem:
    value: bytes
    etag: str
    # True when the value is opaque bytes rather than JSON text.
    is_binary: bool = False
    expires_at: float | None = None


@dataclass(slots=True)
class SetOp:
    key: str
    value: bytes
    etag: str | None = None
    first_write: bool = False
    ttl: float | None = None
    is_binary: bool = False
    # Transactional outbox: published in place of the saved upsert of its key, never saved.
    projection: bool = False


@dataclass(slots=True)
class DeleteOp:
    key: str
    etag: str | None = None
    first_write: bool = False


@dataclass
class Query:
    filter: dict[str, Any] = field(default_factory=dict)
    sort: list[dict[str, str]] = field(default_factory=list)
    limit: int = 0
    token: str | None = None


@dataclass
class QueryResult:
    items: list[tuple[str, StoredItem]]
    token: str | None = None


class StateStore(Component):
    block: ClassVar[str] = "state"
    feature: ClassVar[str] = "ETAG"

    @abstractmethod
    async def get(self, key: str) -> StoredItem | None: ...

    @abstractmethod
    async def set(self, op: SetOp) -> None:
        """Store one item; raise EtagMismatch or EtagInvalid on a failed etag check."""

    @abstractmethod
    async def delete(self, op: DeleteOp) -> None: ...

    async def bulk_get(self, keys: list[str]) -> dict[str, StoredItem]:
        found = {}
        for key in keys:
            item = await self.get(key)
            if item is not None:
                found[key] = item
        return found

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        # Every request needs it, and a bad keyPrefix must stop the sidecar
        # at startup rather than fail each call.
        self._prefix = self._compute_prefix()
        if self.meta.get("outboxPublishPubsub") and not self.meta.get("outboxPublishTopic"):
            raise ConfigError("outboxPublishPubsub needs outboxPublishTopic",
                              field="outboxPublishTopic")

    def outbox(self) -> tuple[str, str] | None:
        """(pub/sub component, topic) of the transactional outbox, if configured."""
        pubsub = str(self.meta.get("outboxPublishPubsub") or "")
        return (pubsub, str(self.meta["outboxPublishTopic"])) if pubsub else None

    def key_prefix(self) -> str:
        """The text put before every key, as Dapr's keyPrefix strategies do."""
        return self._prefix

    def _compute_prefix(self) -> str:
        low = str(self.meta.get("keyPrefix") or "appid").lower()
        if low == "none":
            return ""
        if low == "appid":
            base = self.ctx.app_id
        elif low == "name":
            base = self.name
        elif low == "namespace":
            namespace = self.ctx.namespace
            base = f"{namespace}.{self.ctx.app_id}" if namespace else self.ctx.app_id
        elif KEY_SEPARATOR in low:
            raise ConfigError(f"a custom prefix can't contain '{KEY_SEPARATOR}'",
                              field="keyPrefix")
        else:
            base = low  # Dapr lower-cases a custom prefix
        return base + KEY_SEPARATOR if base else ""

    def features(self) -> list[str]:
        found = super().features()
        # Dapr reports every transactional store with etags as an actor store.
        if "ETAG" in found and "TRANSACTIONAL" in found:
            found.append("ACTOR")
        return found


class Transactional:
    """All-or-nothing multi-item writes."""

    feature: ClassVar[str] = "TRANSACTIONAL"

    @abstractmethod
    async def transact(self, ops: list[SetOp | DeleteOp]) -> None: ...


class TTLSupport:
    """Items saved with a ttl expire by themselves."""

    feature: ClassVar[str] = "TTL"


class Queryable:
    """The alpha query API over JSON values."""

    feature: ClassVar[str] = "QUERY_API"

    @abstractmethod
    async def query(self, query: Query, prefix: str) -> QueryResult: ...
