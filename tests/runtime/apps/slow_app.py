"""An app whose /slow/{seconds} answers only after that many seconds, to
have calls in flight while the sidecar shuts down."""

import asyncio
import sys

from aiohttp import web


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.match_info["seconds"]))
    return web.Response(text="done")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
app.router.add_get("/slow/{seconds}", slow)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
