"""An app for the bindings tests: records every input binding event.

    python receiver.py PORT

RECEIVER_FAIL (environment, default 0): answer 500 to the first N events.
RECEIVER_ROUTES (comma-separated paths; default: every path): the paths the
app serves; OPTIONS and POST elsewhere answer 404, as a web framework would.
GET /received lists the events: path, headers and body (base64)."""

from __future__ import annotations

import base64
import os
import sys
from typing import Any

from aiohttp import web

failures = int(os.environ.get("RECEIVER_FAIL", "0") or 0)
routes = {r for r in os.environ.get("RECEIVER_ROUTES", "").split(",") if r}
received: list[dict[str, Any]] = []
probes: list[str] = []


def served(path: str) -> bool:
    return not routes or path in routes


async def options(request: web.Request) -> web.Response:
    probes.append(request.path)
    return web.Response(status=200 if served(request.path) else 404)


async def deliver(request: web.Request) -> web.Response:
    global failures
    if not served(request.path):
        return web.Response(status=404)
    body = await request.read()
    failing = failures > 0
    failures -= 1 if failing else 0
    received.append({"path": request.path, "answer": 500 if failing else 200,
                     "headers": {k.lower(): v for k, v in request.headers.items()},
                     "body_base64": base64.b64encode(body).decode()})
    return web.Response(status=500 if failing else 200)


async def list_received(request: web.Request) -> web.Response:
    return web.json_response({"events": received, "probes": probes})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
app.router.add_get("/received", list_received)
app.router.add_route("OPTIONS", "/{tail:.*}", options)
app.router.add_post("/{tail:.*}", deliver)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
