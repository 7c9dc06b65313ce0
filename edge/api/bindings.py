"""POST/PUT /v1.0/bindings/{name}: invoke an output binding.

The body is `{"data": ..., "metadata": {...}, "operation": "..."}`. As in
Dapr, `data` is handed to the component as its JSON encoding (a JSON string
arrives with its quotes; components that take text unquote it). The answer
is the component's data (200) or nothing (204), with its metadata as
`metadata.<key>` headers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from edge.api.server import SIDECAR
from edge.errors import DaprError, Err

_PREFIX = "metadata."


def _request(body: bytes) -> tuple[str, bytes, dict[str, str]]:
    """(operation, data, metadata) from the body; ERR_MALFORMED_REQUEST if unusable."""
    try:
        req: Any = json.loads(body) if body.strip() else {}
        if not isinstance(req, dict):
            raise ValueError("the body must be a JSON object")
        operation = req.get("operation") or ""
        metadata = req.get("metadata") or {}
        if not isinstance(operation, str):
            raise ValueError("operation must be a string")
        if not isinstance(metadata, dict) or not all(isinstance(v, str)
                                                     for v in metadata.values()):
            raise ValueError("metadata must be a map of strings")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DaprError(Err.MALFORMED_REQUEST, f"failed deserializing HTTP body: {exc}") from None
    data = req.get("data")
    # A missing data field is sent as nothing rather than Go's "null".
    encoded = b"" if data is None else json.dumps(data, separators=(",", ":")).encode()
    return operation, encoded, metadata


async def invoke(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    operation, data, metadata = _request(await request.read())
    answer = await request.app[SIDECAR].bindings.invoke(name, operation, data, metadata)
    if answer is None:
        return web.Response(status=204)
    headers = {_PREFIX + key: value for key, value in answer.metadata.items()}
    return web.Response(status=200, body=answer.data, headers=headers,
                        content_type="application/json")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1.0/bindings/{name}", invoke)
    router.add_put("/v1.0/bindings/{name}", invoke)
