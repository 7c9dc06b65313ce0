"""orders: receives new orders and keeps the latest one in the state store.

Other apps reach it through the sidecars: a call to method `neworder` of app
`orders` arrives here as `POST /neworder`. The app never opens a database:
it asks its own sidecar to save and read state, so the store behind
"statestore" (SQLite here, Redis elsewhere) can change without code changes.

    edge run --app-id orders --app-port 3000 -- python3 app.py
"""

import os
from collections.abc import AsyncIterator

from aiohttp import ClientSession, web

# `edge run` (like `dapr run`) tells the app where its sidecar and its own port are.
SIDECAR = f"http://127.0.0.1:{os.environ.get('DAPR_HTTP_PORT', '3500')}"
STATE = f"{SIDECAR}/v1.0/state/statestore"
PORT = int(os.environ.get("APP_PORT", "3000"))


async def new_order(request: web.Request) -> web.Response:
    order = (await request.json())["data"]  # {"data": {"orderId": 1}}, as in Dapr's hello-world
    print(f"Got a new order! Order ID: {order['orderId']}")
    # The state API takes a list of key/value pairs; the sidecar answers 204.
    async with request.app["http"].post(STATE, json=[{"key": "order", "value": order}]) as r:
        if r.status != 204:
            print(f"Could not save the order: HTTP {r.status} {await r.text()}")
            return web.json_response({"message": "could not save the order"}, status=500)
    print(f"Successfully persisted state for Order ID: {order['orderId']}")
    return web.Response()


async def get_order(request: web.Request) -> web.Response:
    async with request.app["http"].get(f"{STATE}/order") as r:
        # 204 means nothing was saved yet; pass the sidecar's answer on as it is.
        return web.Response(status=r.status, body=await r.read(),
                            content_type="application/json")


async def http_client(app: web.Application) -> AsyncIterator[None]:
    # One client for the app's lifetime: it keeps the connection to the sidecar open.
    async with ClientSession() as http:
        app["http"] = http
        yield


app = web.Application()
app.cleanup_ctx.append(http_client)
app.router.add_post("/neworder", new_order)
app.router.add_get("/order", get_order)

if __name__ == "__main__":
    print(f"orders listening on port {PORT}")
    web.run_app(app, host="127.0.0.1", port=PORT, print=None)
