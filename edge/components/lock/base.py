"""The lock store interface, and the key rules Dapr applies before a store
sees a resource id."""

from __future__ import annotations

from abc import abstractmethod
from enum import IntEnum
from typing import Any, ClassVar

from edge.components.base import Component, ComponentContext
from edge.components.metadata import Field
from edge.errors import ConfigError

KEY_SEPARATOR = "||"
# Dapr puts every lock under this namespace, whatever the keyPrefix strategy.
_API_PREFIX = "lock"

KEY_PREFIX_FIELD = Field(
    "keyPrefix", default="appid",
    description="appid, name, none, or any other text used as a fixed prefix "
                "(locks are shared only between sidecars with the same prefix)")


class UnlockStatus(IntEnum):
    """The `status` of an unlock, with Dapr's numbers."""

    SUCCESS = 0
    LOCK_DOES_NOT_EXIST = 1
    LOCK_BELONGS_TO_OTHERS = 2
    INTERNAL_ERROR = 3


class IllegalKey(ValueError):
    """A resource id Dapr refuses to turn into a lock key."""


class LockStore(Component):
    block: ClassVar[str] = "lock"

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        # A bad keyPrefix must stop the sidecar at startup, not fail each call.
        self._prefix = self._compute_prefix()

    def _compute_prefix(self) -> str:
        strategy = str(self.meta.get("keyPrefix") or "appid").lower()
        if KEY_SEPARATOR in strategy:
            raise ConfigError(f"keyPrefix can't contain '{KEY_SEPARATOR}'", field="keyPrefix")
        if strategy == "none":
            base = ""
        elif strategy == "appid":
            base = self.ctx.app_id
        elif strategy == "name":
            base = self.name
        else:
            base = strategy  # Dapr lower-cases a fixed prefix
        parts = [_API_PREFIX, base] if base else [_API_PREFIX]
        return KEY_SEPARATOR.join(parts) + KEY_SEPARATOR

    def lock_key(self, resource_id: str) -> str:
        """The key the store keeps, as Dapr builds it: lock||<prefix>||<resourceId>."""
        if KEY_SEPARATOR in resource_id:
            raise IllegalKey(f"input key/keyPrefix '{resource_id}' can't contain "
                             f"'{KEY_SEPARATOR}'")
        return self._prefix + resource_id

    @abstractmethod
    async def try_lock(self, key: str, owner: str, expiry_seconds: int) -> bool:
        """Take the lock for `owner` unless someone holds it unexpired."""

    @abstractmethod
    async def unlock(self, key: str, owner: str) -> UnlockStatus:
        """Release the lock if `owner` holds it."""
