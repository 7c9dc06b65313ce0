"""An app for the configuration tests: records every POST it gets.

    python recorder.py PORT

GET /received lists them: path and JSON body. Every POST is answered 200."""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web

received: list[dict[str, Any]] = []


async def record(request: web.Request) -> web.Response:
    body = await request.read()
    received.append({"path": request.path, "content_type": request.content_type,
                     "body": json.loads(body) if body else None})
    return web.Response(status=200)


async def list_received(request: web.Request) -> web.Response:
    return web.json_response(received)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
app.router.add_get("/received", list_received)
app.router.add_post("/{tail:.*}", record)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
