"""Service invocation over HTTP: /v1.0/invoke/{app-id}/method/{method...},
any other path with a `dapr-app-id` header, and the internal route other
sidecars call."""

from __future__ import annotations

from aiohttp import web

from edge.api.server import SIDECAR
from edge.errors import DaprError, Err
from edge.runtime.channel import Reply, forwardable
from edge.runtime.invocation import CALLER, INTERNAL_PREFIX, call_app, invoke

_METHOD_MARK = "/method/"


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, headers=reply.headers, body=reply.body)


async def invoke_by_path(request: web.Request) -> web.Response:
    raw = request.rel_url.raw_path
    # The method keeps its original encoding: everything after /method/.
    cut = raw.find(_METHOD_MARK, len("/v1.0/invoke/"))
    method = raw[cut + len(_METHOD_MARK):] if cut >= 0 else ""
    reply = await invoke(request.app[SIDECAR], request.match_info["app_id"], request.method,
                         method, request.rel_url.raw_query_string,
                         forwardable(request.headers), await request.read())
    return _response(reply)


async def invoke_by_header(request: web.Request) -> web.Response:
    app_id = request.headers.get("dapr-app-id")
    if not app_id:
        raise DaprError(Err.NOT_FOUND, f"no API at {request.method} {request.path}")
    headers = forwardable(request.headers)
    headers.popall("dapr-app-id", None)
    reply = await invoke(request.app[SIDECAR], app_id, request.method,
                         request.rel_url.raw_path.lstrip("/"), request.rel_url.raw_query_string,
                         headers, await request.read())
    return _response(reply)


async def invoke_internal(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    headers = forwardable(request.headers)
    headers.setdefault(CALLER, "")
    path = request.rel_url.raw_path[len(INTERNAL_PREFIX):]
    reply = await call_app(sidecar, request.method, path, request.rel_url.raw_query_string,
                           headers, await request.read())
    return _response(reply)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", "/v1.0/invoke/{app_id}/method/{method:.*}", invoke_by_path)


def add_header_routing(router: web.UrlDispatcher) -> None:
    router.add_route("*", "/{tail:.*}", invoke_by_header)


def add_internal_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", INTERNAL_PREFIX + "{path:.*}", invoke_internal)
