"""The secret store interface."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from edge.components.base import Component


class SecretNotFound(KeyError):
    """No secret of that name in the store."""


class SecretStore(Component):
    block: ClassVar[str] = "secretstores"

    @abstractmethod
    async def get(self, name: str, meta: dict[str, str]) -> dict[str, str]:
        """The secret's key/value pairs; raise SecretNotFound when there is none."""

    @abstractmethod
    async def bulk(self, meta: dict[str, str]) -> dict[str, dict[str, str]]:
        """Every secret the store holds, by name."""
