"""POST /v1.0/shutdown: answer, then stop as on SIGTERM."""

from __future__ import annotations

import asyncio

from aiohttp import web

from edge.api.server import SIDECAR


async def shutdown(request: web.Request) -> web.Response:
    # Stop after the answer has gone out, not before.
    asyncio.get_running_loop().call_later(0.05, request.app[SIDECAR].request_shutdown)
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1.0/shutdown", shutdown)
