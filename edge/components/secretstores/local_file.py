"""secretstores.local.file: secrets from a JSON file (development and devices)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

from edge.components.metadata import Field
from edge.components.secretstores.base import SecretNotFound, SecretStore
from edge.errors import ConfigError


class FileSecretStore(SecretStore):
    type_name: ClassVar[str] = "secretstores.local.file"
    description: ClassVar[str] = "Secrets from a local JSON file, read at start."
    fields: ClassVar[tuple[Field, ...]] = (
        Field("secretsFile", required=True,
              description="path of the JSON file (relative to the sidecar's working folder)"),
        Field("nestedSeparator", default=":",
              description="joins the keys of nested objects into secret names"),
        Field("multiValued", "bool", default=False,
              description="top-level keys are secrets holding their nested keys as values"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secrets: dict[str, dict[str, str]] = {}

    async def init(self) -> None:
        path = Path(self.meta["secretsFile"])
        try:
            text = await asyncio.to_thread(_read, path)
            document = json.loads(text)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}", field="secretsFile") from None
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}", field="secretsFile") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{path} must hold a JSON object", field="secretsFile")
        sep = self.meta["nestedSeparator"]
        if self.meta["multiValued"]:
            self._secrets = {
                name: _flatten(value, sep) if _is_container(value) else {name: _text(value)}
                for name, value in document.items()
            }
        else:
            self._secrets = {name: {name: value} for name, value in _flatten(document, sep).items()}

    def features(self) -> list[str]:
        # Only a multi-valued file holds several key/value pairs under one secret.
        return ["MULTIPLE_KEY_VALUES_PER_SECRET"] if self.meta["multiValued"] else []

    async def get(self, name: str, meta: dict[str, str]) -> dict[str, str]:
        try:
            return dict(self._secrets[name])
        except KeyError:
            raise SecretNotFound(name) from None

    async def bulk(self, meta: dict[str, str]) -> dict[str, dict[str, str]]:
        return {name: dict(values) for name, values in self._secrets.items()}


def _text(value: Any) -> str:
    # Dapr prints non-string leaves with Go's %s (`%!s(float64=5)`); their JSON
    # text (`5`, `true`, `null`) is what a user can actually use.
    return value if isinstance(value, str) else json.dumps(value)


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _children(node: dict[str, Any] | list[Any]) -> list[tuple[str, Any]]:
    # Array elements are named by their index, as Dapr names them (`arr:0`).
    if isinstance(node, list):
        return [(str(index), value) for index, value in enumerate(node)]
    return list(node.items())


def _flatten(node: dict[str, Any] | list[Any], sep: str, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in _children(node):
        name = f"{prefix}{sep}{key}" if prefix else key
        if _is_container(value):
            flat.update(_flatten(value, sep, name))
        else:
            flat[name] = _text(value)
    return flat


def _read(path: Path) -> str:
    return path.expanduser().read_text(encoding="utf-8")
