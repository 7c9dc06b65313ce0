"""An app that fails on purpose, for the resiliency tests. It counts every
call by path (GET /calls?path=...) so a test sees how often the sidecar tried.

- /fail/{n}/{key}: the first n calls answer 503 (or ?code=), then 200
- /slow/{ms}/{key}: answers after ms milliseconds
- /status/{code}/{key}: always answers code
- /switch/{key}: 500 while down, 200 while up; PUT /down and PUT /up flip it
- POST /tick: an input binding's route; the first two events fail with 500
- pub/sub: subscribes to topic "orders" of pubsub "pubsub"; POST /orders fails the
  first `fails` deliveries of each event (from the event's data), and GET
  /received lists the ids it took
"""

import asyncio
import sys
from collections import Counter

from aiohttp import web

calls: Counter[str] = Counter()
state = {"down": True}
received: list[str] = []


def count(request: web.Request) -> int:
    calls[request.path] += 1
    return calls[request.path]


async def fail(request: web.Request) -> web.Response:
    seen = count(request)
    if seen <= int(request.match_info["n"]):
        return web.json_response({"calls": seen}, status=int(request.query.get("code", "503")))
    return web.json_response({"calls": seen})


async def slow(request: web.Request) -> web.Response:
    seen = count(request)
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return web.json_response({"calls": seen})


async def status(request: web.Request) -> web.Response:
    seen = count(request)
    return web.json_response({"calls": seen}, status=int(request.match_info["code"]))


async def switch(request: web.Request) -> web.Response:
    seen = count(request)
    return web.json_response({"calls": seen}, status=500 if state["down"] else 200)


async def set_down(request: web.Request) -> web.Response:
    state["down"] = request.path == "/down"
    return web.Response(status=204)


async def calls_of(request: web.Request) -> web.Response:
    return web.json_response({"calls": calls[request.query["path"]]})


async def subscribe(request: web.Request) -> web.Response:
    return web.json_response([{"pubsubname": "pubsub", "topic": "orders", "route": "/orders"}])


async def orders(request: web.Request) -> web.Response:
    event = await request.json()
    key = f"/orders/{event['id']}"
    calls[key] += 1
    if calls[key] <= int(event["data"].get("fails", 0)):
        return web.Response(status=500)
    received.append(event["id"])
    return web.json_response({"status": "SUCCESS"})


async def tick(request: web.Request) -> web.Response:
    seen = count(request)
    return web.Response(status=500 if seen <= 2 else 200)


async def taken(request: web.Request) -> web.Response:
    return web.json_response(received)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
app.router.add_get("/calls", calls_of)
app.router.add_get("/dapr/subscribe", subscribe)
app.router.add_post("/orders", orders)
app.router.add_get("/received", taken)
app.router.add_post("/tick", tick)
app.router.add_put("/down", set_down)
app.router.add_put("/up", set_down)
app.router.add_route("*", "/fail/{n}/{key}", fail)
app.router.add_route("*", "/slow/{ms}/{key}", slow)
app.router.add_route("*", "/status/{code}/{key}", status)
app.router.add_route("*", "/switch/{key}", switch)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
