"""Actors over HTTP: /v1.0/actors/{type}/{id}/method|state|reminders|timers,
and the internal route other sidecars forward actor calls to."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from edge import rawjson
from edge.api.server import SIDECAR
from edge.components.state.base import DeleteOp, SetOp
from edge.errors import DaprError, Err
from edge.runtime.actors.runtime import INTERNAL_PREFIX, ActorRuntime
from edge.runtime.channel import Reply, forwardable

_BASE = "/v1.0/actors/{type}/{id}"


def _runtime(request: web.Request) -> ActorRuntime:
    return request.app[SIDECAR].actors


def _names(request: web.Request) -> tuple[str, str]:
    return request.match_info["type"], request.match_info["id"]


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, headers=reply.headers, body=reply.body)


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    try:
        found = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        raise DaprError(Err.MALFORMED_REQUEST, f"failed deserializing HTTP body: {exc}") from None
    if not isinstance(found, dict):
        raise DaprError(Err.MALFORMED_REQUEST, "the body must be a JSON object")
    return found


# -- methods


async def invoke(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    reply = await _runtime(request).invoke(actor_type, actor_id, request.match_info["method"],
                                           request.method, forwardable(request.headers),
                                           await request.read())
    return _response(reply)


async def invoke_internal(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    reply = await _runtime(request).invoke(actor_type, actor_id, request.match_info["method"],
                                           request.method, forwardable(request.headers),
                                           await request.read(), forwarded=True)
    return _response(reply)


# -- state


async def get_state(request: web.Request) -> web.Response:
    value = await _runtime(request).get_state(*_names(request), request.match_info["key"])
    if value is None:
        return web.Response(status=204)
    return web.Response(body=value, content_type="application/json")


def _operations(body: bytes) -> list[SetOp | DeleteOp]:
    """The operations, keyed by the actor's own keys."""
    try:
        ops = rawjson.loads_keeping(body.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DaprError(Err.MALFORMED_REQUEST, f"failed deserializing HTTP body: {exc}") from None
    if not isinstance(ops, list):
        raise DaprError(Err.MALFORMED_REQUEST, "the body must be a JSON array of operations")
    found: list[SetOp | DeleteOp] = []
    for op in ops:
        req = op.get("request") if isinstance(op, dict) else None
        key = req.get("key") if isinstance(req, dict) else None
        if not isinstance(key, str) or not key:
            raise DaprError(Err.MALFORMED_REQUEST, "each operation needs request.key")
        kind = op.get("operation")
        if kind == "delete":
            found.append(DeleteOp(key))
        elif kind == "upsert":
            value = req.get("value")
            raw = value.text.encode() if isinstance(value, rawjson.RawValue) else b"null"
            found.append(SetOp(key, raw, ttl=ttl_of(req.get("metadata"))))
        else:
            raise DaprError(Err.MALFORMED_REQUEST, f"operation type {kind!r} not supported "
                            "(upsert or delete)")
    return found


def ttl_of(metadata: Any) -> float | None:
    """ttlInSeconds of an operation's metadata; none when absent or not positive."""
    raw = metadata.get("ttlInSeconds") if isinstance(metadata, dict) else None
    if raw in (None, ""):
        return None
    try:
        seconds = int(str(raw))
    except ValueError:
        raise DaprError(Err.MALFORMED_REQUEST, f"ttlInSeconds {raw!r} is not an integer") from None
    return float(seconds) if seconds > 0 else None


async def transact_state(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    runtime.need_store()
    ops = _operations(await request.read())
    await runtime.transact_state(*_names(request), ops)
    return web.Response(status=204)


# -- reminders and timers


async def create_reminder(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    runtime = _runtime(request)
    runtime.need_store()
    spec = await _json_object(request)
    await runtime.reminders.create(actor_type, actor_id, request.match_info["name"], spec)
    return web.Response(status=204)


async def get_reminder(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    name = request.match_info["name"]
    found = await _runtime(request).reminders.get(actor_type, actor_id, name)
    if found is None:
        raise DaprError(Err.ACTOR_REMINDER_GET, f"error getting actor reminder: reminder {name} "
                        f"of {actor_type}/{actor_id} not found")
    return web.json_response(found)


async def delete_reminder(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    await _runtime(request).reminders.delete(actor_type, actor_id, request.match_info["name"])
    return web.Response(status=204)


async def create_timer(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    runtime = _runtime(request)
    runtime.need_store()
    runtime.create_timer(actor_type, actor_id, request.match_info["name"],
                         await _json_object(request))
    return web.Response(status=204)


async def delete_timer(request: web.Request) -> web.Response:
    actor_type, actor_id = _names(request)
    _runtime(request).delete_timer(actor_type, actor_id, request.match_info["name"])
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", _BASE + "/method/{method}", invoke)
    router.add_get(_BASE + "/state/{key}", get_state)
    router.add_post(_BASE + "/state", transact_state)
    router.add_put(_BASE + "/state", transact_state)
    for verb in ("POST", "PUT"):
        router.add_route(verb, _BASE + "/reminders/{name}", create_reminder)
        router.add_route(verb, _BASE + "/timers/{name}", create_timer)
    router.add_get(_BASE + "/reminders/{name}", get_reminder)
    router.add_delete(_BASE + "/reminders/{name}", delete_reminder)
    router.add_delete(_BASE + "/timers/{name}", delete_timer)


def add_internal_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", INTERNAL_PREFIX + "{type}/{id}/method/{method}", invoke_internal)
