"""configuration.local.file: configuration items in a YAML file, watched.

The file maps each key to its value, or to {value, version, metadata}:

    maxSpeed: 120
    mode:
      value: eco
      version: "3"
      metadata: {owner: ops}

It is checked every `pollInterval`: when its size, inode or modification time
moves (or the time is too recent to trust, see _settled), it is read and
parsed again. A file that no longer parses keeps the last good items in force
and is reported once, naming the file and the error."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import yaml

from edge.components.configuration.base import ConfigurationItem, ConfigurationStore, text
from edge.components.metadata import Field
from edge.errors import ConfigError

log = logging.getLogger("edge.configuration.file")

_ITEM_FIELDS = frozenset({"value", "version", "metadata"})
# Modification times this close to now may be followed by another write in the
# same clock tick (coarse timestamps on FAT and some SD cards), so such a file
# is read again on the next poll even if its stat looks unchanged.
_RACY_SECONDS = 2.0


class FileFormatError(ValueError):
    """The file's content is not a mapping of configuration items."""


def _scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else text(value)


def parse_items(document: Any) -> dict[str, ConfigurationItem]:
    """Items from a parsed YAML document; raise FileFormatError on a bad shape."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise FileFormatError("the file must map keys to values")
    items: dict[str, ConfigurationItem] = {}
    for raw_key, entry in document.items():
        key = text(raw_key)
        if isinstance(entry, dict):
            unknown = set(map(str, entry)) - _ITEM_FIELDS
            if unknown or "value" not in entry:
                raise FileFormatError(
                    f"key {key!r}: a mapping must have value (and may have version, metadata); "
                    f"found {', '.join(sorted(map(str, entry)))}")
            meta = entry.get("metadata") or {}
            if not isinstance(meta, dict):
                raise FileFormatError(f"key {key!r}: metadata must be a mapping")
            items[key] = ConfigurationItem(
                _scalar(entry["value"]), text(entry.get("version")),
                {text(k): _scalar(v) for k, v in meta.items()})
        else:
            items[key] = ConfigurationItem(_scalar(entry))
    return items


def load_items(data: bytes) -> dict[str, ConfigurationItem]:
    """Items from the file's bytes; raise FileFormatError when they cannot be used."""
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise FileFormatError(f"not valid YAML: {exc}") from None
    return parse_items(document)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read(path: Path) -> tuple[tuple[int, int, int] | None, bytes | None]:
    signature = _signature(path)
    try:
        return signature, path.read_bytes()
    except FileNotFoundError:
        return None, None


class FileConfigurationStore(ConfigurationStore):
    type_name: ClassVar[str] = "configuration.local.file"
    description: ClassVar[str] = (
        "Configuration items in a local YAML file (edge addition), watched for changes.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("path", required=True, description="the YAML file: key: value, or "
              "key: {value, version, metadata} (relative to the sidecar's working folder)"),
        Field("pollInterval", "duration", default=0.5,
              description="how often the file is checked for changes"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = Path(str(self.meta["path"])).expanduser()
        self._items: dict[str, ConfigurationItem] = {}
        self._signature: tuple[int, int, int] | None = None
        self._digest = b""
        self._reported = b""
        self._missing_reported = False
        self._lock = asyncio.Lock()
        # The items last handed to the watcher: get() also reads the file, and a
        # change it found must still reach the subscribers.
        self._polled: dict[str, ConfigurationItem] | None = None
        self._pending: tuple[int, int, int] | None = None

    async def init(self) -> None:
        signature, data = await asyncio.to_thread(_read, self.path)
        if data is None:
            raise ConfigError(f"{self.path} does not exist", field="path")
        try:
            self._items = load_items(data)
        except FileFormatError as exc:
            raise ConfigError(f"{self.path}: {exc}", field="path") from None
        self._signature, self._digest = signature, hashlib.sha256(data).digest()

    async def get(self, keys: list[str], metadata: dict[str, str]) -> dict[str, ConfigurationItem]:
        # Read through, so a get right after an edit sees it even with no subscriber.
        await self._refresh()
        if not keys:
            return dict(self._items)
        return {k: self._items[k] for k in keys if k in self._items}

    async def snapshot(self) -> dict[str, ConfigurationItem]:
        return dict(self._items)

    async def poll(self) -> dict[str, ConfigurationItem] | None:
        await self._refresh(settle=True)
        if self._items is self._polled:
            return None
        self._polled = self._items
        return dict(self._items)

    async def _refresh(self, settle: bool = False) -> None:
        async with self._lock:
            signature = await asyncio.to_thread(_signature, self.path)
            if signature == self._signature:
                if self._settled(signature):
                    return
            elif settle and signature != self._pending:
                # An editor that truncates and then writes leaves an empty or half
                # file for a moment; the watcher only takes a file that stood
                # still for one poll, so subscribers are not told of a phantom.
                self._pending = signature
                return
            signature, data = await asyncio.to_thread(_read, self.path)
            if data is not None and await asyncio.to_thread(_signature, self.path) != signature:
                return  # written to while being read: the next look gets all of it
            if data is None:
                if not self._missing_reported:
                    log.error("configuration store %s: %s is gone; keeping the last items read",
                              self.name, self.path)
                    self._missing_reported = True
                self._signature = None
                return
            self._missing_reported = False
            self._signature = signature
            digest = hashlib.sha256(data).digest()
            if digest == self._digest:
                self._reported = b""
                return
            try:
                items = load_items(data)
            except FileFormatError as exc:
                if digest != self._reported:
                    log.error("configuration store %s: %s: %s; keeping the last good items",
                              self.name, self.path, exc)
                    self._reported = digest
                return
            self._digest, self._reported = digest, b""
            self._items = items
            log.info("configuration store %s: %s changed (%d items)", self.name, self.path,
                     len(items))

    @staticmethod
    def _settled(signature: tuple[int, int, int] | None) -> bool:
        return signature is None or time.time() - signature[2] / 1e9 > _RACY_SECONDS


def write_items_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write the YAML file aside and rename it into place, so a watcher never
    reads half of it."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    draft.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                     encoding="utf-8")
    os.replace(draft, path)
