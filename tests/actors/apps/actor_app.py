"""An actor host for the tests, speaking Dapr's app-side actor protocol the
way the SDKs do, and recording every callback it gets.

    python actor_app.py PORT

ACTOR_TYPES (comma-separated), ACTOR_IDLE (e.g. 1s), ACTOR_SCAN (e.g. 200ms),
REENTRANT_TYPES (comma-separated types with reentrancy on), DAPR_HTTP_PORT.
GET /events lists what happened: calls (with start and end times),
reminders, timers and deactivations."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from aiohttp import ClientSession, web

types = [t for t in os.environ.get("ACTOR_TYPES", "Device").split(",") if t]
reentrant = [t for t in os.environ.get("REENTRANT_TYPES", "").split(",") if t]
sidecar = f"http://127.0.0.1:{os.environ.get('DAPR_HTTP_PORT', '3500')}"
events: list[dict[str, Any]] = []
port = int(sys.argv[1]) if len(sys.argv) > 1 else 0


async def config(request: web.Request) -> web.Response:
    body: dict[str, Any] = {"entities": types,
                            "actorIdleTimeout": os.environ.get("ACTOR_IDLE", "1h"),
                            "actorScanInterval": os.environ.get("ACTOR_SCAN", "30s"),
                            "drainOngoingCallTimeout": "5s", "drainRebalancedActors": True}
    if reentrant:
        body["entitiesConfig"] = [{"entities": reentrant,
                                   "reentrancy": {"enabled": True, "maxStackDepth": 4}}]
    return web.json_response(body)


async def _sidecar(method: str, path: str, headers: dict[str, str] | None = None,
                   json: Any = None) -> tuple[int, Any]:
    async with ClientSession() as http, http.request(method, sidecar + path, json=json,
                                                     headers=headers or {}) as resp:
        text = await resp.text()
        return resp.status, text


async def method(request: web.Request) -> web.Response:
    actor_type, actor_id = request.match_info["type"], request.match_info["id"]
    name = request.match_info["method"]
    raw = await request.read()
    body = await request.json() if raw else {}
    started = time.time()
    entry: dict[str, Any] = {"kind": "call", "type": actor_type, "id": actor_id,
                             "method": name, "start": started, "port": port,
                             "reentrancy": request.headers.get("Dapr-Reentrancy-Id"),
                             "traceparent": request.headers.get("traceparent")}
    events.append(entry)
    answer: Any = {"port": port, "id": actor_id}
    base = f"/v1.0/actors/{actor_type}/{actor_id}"
    if name == "sleep":
        await asyncio.sleep(float(body.get("seconds", 0.2)))
    elif name == "flaky":
        # Fails the first `fails` calls of each actor, for the resiliency tests.
        tries = sum(1 for e in events if e.get("method") == "flaky" and e["id"] == actor_id)
        if tries <= int(body.get("fails", 0)):
            return web.json_response({"tries": tries}, status=500)
        answer = {"tries": tries}
    elif name == "save":
        status, text = await _sidecar("POST", base + "/state", json=body)
        answer = {"status": status, "text": text}
    elif name == "reenter":
        # Calls itself through the sidecar, carrying the chain's id as the SDKs do.
        chain = {"Dapr-Reentrancy-Id": request.headers.get("Dapr-Reentrancy-Id", "")}
        status, text = await _sidecar("POST", base + "/method/sleep", chain,
                                      json={"seconds": 0})
        answer = {"status": status, "text": text}
    elif name == "timer":
        status, text = await _sidecar("POST", base + f"/timers/{body.pop('name')}", json=body)
        answer = {"status": status, "text": text}
    entry["end"] = time.time()
    return web.json_response(answer)


async def callback(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    events.append({"kind": kind, "type": request.match_info["type"],
                   "id": request.match_info["id"], "name": request.match_info["name"],
                   "body": await request.json(), "at": time.time(), "port": port})
    return web.Response()


async def deactivate(request: web.Request) -> web.Response:
    events.append({"kind": "deactivate", "type": request.match_info["type"],
                   "id": request.match_info["id"], "at": time.time(), "port": port})
    return web.Response()


async def list_events(request: web.Request) -> web.Response:
    return web.json_response(events)


healthy = True


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok" if healthy else "sick", status=200 if healthy else 500)


async def set_health(request: web.Request) -> web.Response:
    global healthy
    healthy = request.match_info["state"] == "healthy"
    return web.Response()


app = web.Application()
app.router.add_get("/dapr/config", config)
app.router.add_get("/healthz", healthz)
app.router.add_get("/events", list_events)
app.router.add_post("/health/{state:healthy|sick}", set_health)
app.router.add_put("/actors/{type}/{id}/method/{kind:remind|timer}/{name}", callback)
app.router.add_put("/actors/{type}/{id}/method/{method}", method)
app.router.add_delete("/actors/{type}/{id}", deactivate)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=port, print=None)
