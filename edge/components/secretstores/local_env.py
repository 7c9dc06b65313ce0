"""secretstores.local.env: secrets from the sidecar's environment variables."""

from __future__ import annotations

import os
from typing import ClassVar

from edge.components.metadata import Field
from edge.components.secretstores.base import SecretStore


def _blocked(name: str) -> bool:
    """The sidecar's own credentials are never handed out (as in Dapr)."""
    upper = name.upper()
    return upper == "APP_API_TOKEN" or upper.startswith("DAPR_")


class EnvSecretStore(SecretStore):
    type_name: ClassVar[str] = "secretstores.local.env"
    description: ClassVar[str] = "Secrets from the sidecar's environment variables."
    fields: ClassVar[tuple[Field, ...]] = (
        Field("prefix", default="",
              description="only variables starting with this are secrets, named without it"),
    )

    def _prefix(self) -> str:
        return str(self.meta.get("prefix") or "")

    async def get(self, name: str, meta: dict[str, str]) -> dict[str, str]:
        # Dapr answers an unset variable with an empty value, not an error.
        full = self._prefix() + name
        return {name: "" if _blocked(full) else os.environ.get(full, "")}

    async def bulk(self, meta: dict[str, str]) -> dict[str, dict[str, str]]:
        prefix = self._prefix()
        return {
            key[len(prefix):]: {key[len(prefix):]: value}
            for key, value in os.environ.items()
            if key.startswith(prefix) and len(key) > len(prefix) and not _blocked(key)
        }
