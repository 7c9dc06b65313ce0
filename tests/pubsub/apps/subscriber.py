"""A subscriber app for the pub/sub tests.

    python subscriber.py PORT

SUBSCRIBER_CONFIG (JSON, in the environment) holds `subscriptions`, served
at GET /dapr/subscribe (null: that path answers 404), and `answers`: for a
topic, what the app answers to its first deliveries, in turn:
SUCCESS, RETRY, DROP (as {"status": ...}), EMPTY (200, no body) or an HTTP
status such as "500" or "404". Later deliveries get SUCCESS. More answers
can be queued with POST /control/answers {"topic": ..., "answers": [...]}.

Every delivery is recorded; GET /received?topic=T lists them in order (a
bulk delivery is listed under its topic and each entry's). For
a bulk delivery the answer for `bulk:<topic>` applies to the whole request
when it is an HTTP status; otherwise each entry gets its topic's answer."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections import defaultdict
from typing import Any

from aiohttp import web

CONFIG = json.loads(os.environ.get("SUBSCRIBER_CONFIG") or "{}")
answers: dict[str, list[str]] = defaultdict(list, {
    topic: list(queued) for topic, queued in (CONFIG.get("answers") or {}).items()})
received: list[dict[str, Any]] = []


def next_answer(topic: str) -> str:
    queued = answers.get(topic)
    return queued.pop(0) if queued else "SUCCESS"


def respond(answer: str) -> web.Response:
    if answer.isdigit():
        return web.Response(status=int(answer), text=f"scripted {answer}")
    if answer == "EMPTY":
        return web.Response(status=200)
    return web.json_response({"status": answer})


def describe_body(body: bytes) -> dict[str, Any]:
    found: dict[str, Any] = {"body_base64": base64.b64encode(body).decode()}
    try:
        found["json"] = json.loads(body)
    except ValueError:
        found["json"] = None
    return found


async def subscribe(request: web.Request) -> web.Response:
    subscriptions = CONFIG.get("subscriptions")
    if subscriptions is None:
        return web.Response(status=404)
    return web.json_response(subscriptions)


async def queue_answers(request: web.Request) -> web.Response:
    order = await request.json()
    answers[order["topic"]].extend(order["answers"])
    return web.Response(status=204)


async def list_received(request: web.Request) -> web.Response:
    topic = request.query.get("topic")
    found = [r for r in received if topic is None or topic in r["topics"]]
    return web.json_response(found)


def bulk_answer(record: dict[str, Any], envelope: dict[str, Any]) -> web.Response:
    whole = next_answer("bulk:" + str(envelope.get("topic")))
    if whole.isdigit():
        record["answer"] = whole
        return respond(whole)
    statuses = []
    for entry in envelope["entries"]:
        event = entry.get("event")
        topic = event.get("topic") if isinstance(event, dict) else envelope.get("topic")
        statuses.append({"entryId": entry.get("entryId"), "status": next_answer(str(topic))})
    record["answer"] = statuses
    return web.json_response({"statuses": statuses})


async def deliver(request: web.Request) -> web.Response:
    body = await request.read()
    record: dict[str, Any] = {
        "path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()},
        **describe_body(body)}
    event = record["json"]
    bulk = isinstance(event, dict) and isinstance(event.get("entries"), list)
    record["bulk"] = bulk
    record["topic"] = event.get("topic") if isinstance(event, dict) else None
    # A bulk delivery is found by its own topic and by each entry's.
    record["topics"] = [record["topic"]] + [
        e["event"].get("topic") for e in (event["entries"] if bulk else [])
        if isinstance(e, dict) and isinstance(e.get("event"), dict)]
    received.append(record)
    if bulk:
        return bulk_answer(record, event)
    record["answer"] = next_answer(str(record["topic"]))
    return respond(record["answer"])


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.router.add_get("/healthz", healthz)
app.router.add_get("/dapr/subscribe", subscribe)
app.router.add_post("/control/answers", queue_answers)
app.router.add_get("/received", list_received)
app.router.add_post("/{tail:.*}", deliver)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
