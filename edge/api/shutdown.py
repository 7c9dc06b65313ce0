"""POST /v1.0/shutdown: answer, then stop as on SIGTERM; with the header
`Dapr-Force-Shutdown: true`, exit at once without the graceful sequence."""

from __future__ import annotations

import asyncio
import logging
import os

from aiohttp import web

from edge.api.server import SIDECAR

log = logging.getLogger("edge.api.shutdown")

# Long enough for the 204 to reach the caller before the process goes.
_ANSWER_DELAY = 0.1


def _force_exit() -> None:
    # Skips cleanup on purpose: forcing is for a sidecar whose graceful stop hangs.
    os._exit(1)


async def shutdown(request: web.Request) -> web.Response:
    loop = asyncio.get_running_loop()
    if request.headers.get("Dapr-Force-Shutdown", "").strip().lower() == "true":
        log.warning("Force shutdown requested, exiting immediately without graceful shutdown")
        loop.call_later(_ANSWER_DELAY, _force_exit)
    else:
        log.info("Shutdown requested via API")
        loop.call_later(_ANSWER_DELAY, request.app[SIDECAR].request_shutdown)
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1.0/shutdown", shutdown)
