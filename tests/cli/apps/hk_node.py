"""The shape of quickstarts' hello-kubernetes node app, in Python: listens on
APP_PORT and logs each order posted to /neworder."""

import os

from aiohttp import web


async def new_order(request: web.Request) -> web.Response:
    order = (await request.json())["data"]
    print(f"Got a new order! Order ID: {order['orderId']}")
    return web.Response()


app = web.Application()
app.router.add_post("/neworder", new_order)
port = int(os.environ.get("APP_PORT", "3000"))
print(f"Node App listening on port {port}!")
web.run_app(app, host="127.0.0.1", port=port, print=None)
