"""A small app for the tests: it answers every call with what it received,
so a test can see exactly what the sidecar delivered."""

import base64
import sys

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    if request.path.startswith("/status/"):
        code = int(request.path.split("/")[2])
        return web.Response(status=code, body=body, headers={"x-app": "echo"},
                            content_type=request.content_type)
    return web.json_response({
        "method": request.method,
        "path": request.raw_path.split("?")[0],
        "query": request.query_string,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "body": base64.b64encode(body).decode(),
    }, headers={"x-app": "echo"})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_get("/healthz", healthz)
app.router.add_route("*", "/{tail:.*}", echo)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
