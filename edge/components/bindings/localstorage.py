"""bindings.localstorage: an output binding that keeps files under `rootPath`.

Operations: create (fileName metadata, or a new UUID), get, list, delete, as
Dapr's. A file name that would leave the root is refused. File I/O runs in a
worker thread, off the event loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import uuid
from pathlib import Path
from typing import Any, ClassVar

from edge.components.base import ComponentContext
from edge.components.bindings.base import COMMON_FIELDS, BindingError, InvokeResponse, OutputBinding
from edge.components.metadata import Field


def _text(data: bytes) -> bytes:
    """The content the app meant: the API hands data over JSON-encoded, so a
    JSON string is unquoted (as Dapr's component does); anything else is kept."""
    try:
        value = json.loads(data)
    except ValueError:
        return data
    return value.encode() if isinstance(value, str) else data


class LocalStorageBinding(OutputBinding):
    type_name: ClassVar[str] = "bindings.localstorage"
    description: ClassVar[str] = ("Output binding that stores files in a local folder: "
                                  "create, get, list, delete.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("rootPath", required=True, description="the folder files are kept in; names "
              "that lead outside it are refused"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.root = Path(str(meta.get("rootPath") or ".")).resolve()

    async def init(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    def operations(self) -> list[str]:
        return ["create", "get", "list", "delete"]

    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        name = metadata.get("fileName", "")
        if operation == "create":
            return await self._create(name or str(uuid.uuid4()), data, metadata)
        if operation == "list":
            return await self._list(name)
        if not name:
            raise BindingError("required metadata field 'fileName' is missing")
        if operation == "get":
            return await self._get(name)
        await self._delete(name)
        return None

    def _path(self, name: str) -> Path:
        # Resolved first, so "../x", absolute names and symlinks out are all caught.
        path = (self.root / name).resolve()
        if path != self.root and self.root not in path.parents:
            raise BindingError(f"file name {name!r} is outside rootPath")
        return path

    async def _create(self, name: str, data: bytes, metadata: dict[str, str]) -> InvokeResponse:
        path = self._path(name)
        content = _text(data)
        if metadata.get("decodeBase64", "").lower() == "true":
            try:
                content = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BindingError(f"data is not valid base64: {exc}") from None

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

        await self._io(write)
        body = json.dumps({"fileName": path.relative_to(self.root).as_posix()}).encode()
        return InvokeResponse(body)

    async def _get(self, name: str) -> InvokeResponse:
        path = self._path(name)
        return InvokeResponse(await self._io(path.read_bytes))

    async def _list(self, name: str) -> InvokeResponse:
        folder = self._path(name) if name else self.root

        def walk() -> list[str]:
            if not folder.is_dir():
                raise FileNotFoundError(f"no folder {name!r}")
            found = []
            for top, _dirs, files in os.walk(folder):
                found += [(Path(top) / f).relative_to(self.root).as_posix() for f in files]
            return sorted(found)

        return InvokeResponse(json.dumps(await self._io(walk)).encode())

    async def _delete(self, name: str) -> None:
        path = self._path(name)
        if path == self.root:
            raise BindingError("rootPath itself cannot be deleted")
        await self._io(path.unlink)

    @staticmethod
    async def _io(work: Any) -> Any:
        try:
            return await asyncio.to_thread(work)
        except FileNotFoundError as exc:
            raise BindingError(f"file not found: {exc.filename or exc}") from None
        except OSError as exc:
            raise BindingError(f"{type(exc).__name__}: {exc.strerror or exc}") from None
