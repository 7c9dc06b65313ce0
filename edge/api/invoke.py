"""Service invocation over HTTP: /v1.0/invoke/{app-id}/method/{method...},
any other path with a `dapr-app-id` header, and the internal route other
sidecars call."""

from __future__ import annotations

from aiohttp import web

from edge.api.server import SIDECAR, error_response
from edge.errors import DaprError, Err
from edge.runtime import metrics
from edge.runtime.acl import authorize
from edge.runtime.channel import Reply, forwardable
from edge.runtime.invocation import (
    CALLER,
    INTERNAL_PREFIX,
    SIDECAR_ERROR,
    VERB,
    call_app,
    invoke,
    normalize_method,
    without_private,
)

_METHOD_MARK = "/method/"


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, headers=reply.headers, body=reply.body)


async def _forward(request: web.Request, app_id: str, method: str) -> web.Response:
    headers = without_private(forwardable(request.headers))
    headers.popall("dapr-app-id", None)
    if request.remote:
        headers.add("X-Forwarded-For", request.remote)
    if request.host:
        headers["X-Forwarded-Host"] = request.host
    reply = await invoke(request.app[SIDECAR], app_id, request.method, normalize_method(method),
                         request.rel_url.raw_query_string, headers, await request.read())
    without_private(reply.headers)
    return _response(reply)


async def invoke_by_path(request: web.Request) -> web.Response:
    raw = request.rel_url.raw_path
    header_id = request.headers.get("dapr-app-id")
    if header_id:
        # As in Dapr, the header wins and the whole path is the method.
        return await _forward(request, header_id, raw.lstrip("/"))
    # The method keeps the encoding the caller gave it: everything after /method/.
    cut = raw.find(_METHOD_MARK, len("/v1.0/invoke/"))
    method = raw[cut + len(_METHOD_MARK):] if cut >= 0 else ""
    return await _forward(request, request.match_info["app_id"], method)


async def invoke_by_header(request: web.Request) -> web.Response:
    app_id = request.headers.get("dapr-app-id")
    if not app_id:
        raise DaprError(Err.DIRECT_INVOKE_NO_APP_ID, "failed getting app id either from the URL "
                        f"path or the header dapr-app-id ({request.method} {request.path})")
    return await _forward(request, app_id, request.rel_url.raw_path.lstrip("/"))


async def invoke_internal(request: web.Request) -> web.Response:
    try:
        return await _invoke_internal(request)
    except DaprError as error:
        # Marked, so that the calling sidecar can tell it from an app's answer.
        response = error_response(error)
        response.headers[SIDECAR_ERROR] = "1"
        return response


async def _invoke_internal(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    headers = forwardable(request.headers)
    headers.setdefault(CALLER, "")
    caller = headers[CALLER]
    path = request.rel_url.raw_path[len(INTERNAL_PREFIX):]
    verb = headers.pop(VERB, request.method)
    authorize(sidecar, headers[CALLER], verb, path)
    metrics.invocation_received(caller)
    reply = await call_app(sidecar, verb, path, request.rel_url.raw_query_string, headers,
                           await request.read())
    metrics.invocation_responded(caller, reply.status)
    return _response(reply)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", "/v1.0/invoke/{app_id}/method/{method:.*}", invoke_by_path)


def add_header_routing(router: web.UrlDispatcher) -> None:
    router.add_route("*", "/{tail:.*}", invoke_by_header)


def add_internal_routes(router: web.UrlDispatcher) -> None:
    router.add_route("*", INTERNAL_PREFIX + "{path:.*}", invoke_internal)
