"""The sidecar's HTTP servers: the public Dapr API and the internal
sidecar-to-sidecar port. Errors are rendered here, and only here."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.api")
api_log = logging.getLogger("edge.api.calls")

SIDECAR: web.AppKey[Sidecar] = web.AppKey("sidecar")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Calls a client may make without the API token (Dapr exempts health probes).
# Matched exactly: any other path, or another method, may be an invocation
# through the catch-all route and must be authenticated.
_TOKEN_EXEMPT_PATHS = frozenset({"/v1.0/healthz", "/v1.0/healthz/outbound"})
_TOKEN_EXEMPT_METHODS = frozenset({"GET", "HEAD"})


def error_response(error: DaprError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _from_http(exc: web.HTTPException, request: web.Request) -> DaprError:
    if exc.status == 413:
        limit = request.app[SIDECAR].options.max_request_size_mb
        return DaprError(Err.BODY_TOO_LARGE, f"request body larger than {limit} MB "
                         "(--dapr-http-max-request-size)")
    if exc.status == 405:
        return DaprError(Err.METHOD_NOT_ALLOWED,
                         f"method {request.method} is not allowed on {request.path}")
    if exc.status == 404:
        return DaprError(Err.NOT_FOUND, f"no API at {request.method} {request.path}")
    return DaprError(Err.MALFORMED_REQUEST, exc.reason or str(exc))


@web.middleware
async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DaprError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc, request))
    except Exception as exc:  # nothing a client sends may take the sidecar down
        log.exception("unexpected failure serving %s %s", request.method, request.path)
        return error_response(DaprError(Err.INTERNAL, f"internal error: {exc.__class__.__name__}"))


def _token_exempt(request: web.Request) -> bool:
    return (request.method in _TOKEN_EXEMPT_METHODS
            and request.path in _TOKEN_EXEMPT_PATHS)


def token_check(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    # Header values arrive surrogate-escaped when not UTF-8; compare raw bytes.
    expected = token.encode("utf-8", "surrogateescape")

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _token_exempt(request):
            given = request.headers.get("dapr-api-token", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(given, expected):
                raise DaprError(Err.UNAUTHORIZED,
                                "missing or wrong dapr-api-token header (DAPR_API_TOKEN is set)")
        return await handler(request)

    return check


@web.middleware
async def log_calls(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    response = await handler(request)
    api_logging = request.app[SIDECAR].config.logging.api_logging
    if api_logging.omit_health_checks and request.path in _TOKEN_EXEMPT_PATHS:
        return response
    resource = request.match_info.route.resource
    # The route template, never the path itself: keys, names and query strings
    # in a URL can be secrets.
    template = resource.canonical if resource is not None else request.path
    millis = (time.perf_counter() - start) * 1000
    fields = {"method": f"{request.method} {template}", "code": response.status,
              "duration": round(millis)}
    api_log.info("HTTP API called: %s %s -> %d (%.1f ms)", request.method, template,
                 response.status, millis, extra={"dapr_fields": fields})
    return response


def public_app(sidecar: Sidecar) -> web.Application:
    from edge.api import (
        actors,
        bindings,
        health,
        invoke,
        metadata,
        pubsub,
        secrets,
        shutdown,
        state,
    )
    from edge.api import configuration as configuration_api
    from edge.api import lock as lock_api

    middlewares: list[Callable[..., Awaitable[web.StreamResponse]]] = []
    if metrics.enabled():
        # Outermost, so that it counts the status of rendered errors too.
        middlewares.append(metrics.http_middleware)
    if tracing.tracer() is not None:
        middlewares.append(tracing.http_middleware)
    if sidecar.options.enable_api_logging or sidecar.config.logging.api_logging.enabled:
        middlewares.append(log_calls)
    middlewares.append(render_errors)
    if sidecar.options.api_token:
        middlewares.append(token_check(sidecar.options.api_token))
    if sidecar.config.api.restricts_http:
        # After the token check: daprd authenticates before it routes.
        from edge.api.access import api_access

        middlewares.append(api_access(sidecar))
    app = web.Application(client_max_size=sidecar.options.max_request_size_mb * 1024 * 1024,
                          middlewares=middlewares, handler_args={"max_field_size": 65536})
    app[SIDECAR] = sidecar
    for module in (health, metadata, shutdown, state, secrets, pubsub, bindings, lock_api,
                   actors, configuration_api, invoke):
        module.add_routes(app.router)
    # Last: any other path carrying a dapr-app-id header is an invocation.
    invoke.add_header_routing(app.router)
    return app


def internal_check(sidecar: Sidecar) -> Callable[..., Awaitable[web.StreamResponse]]:
    from edge.runtime.invocation import INTERNAL_TOKEN

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(INTERNAL_TOKEN, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, sidecar.internal_secret.encode()):
            raise DaprError(Err.UNAUTHORIZED, "the internal port only serves sidecars of the "
                            "same edge home")
        return await handler(request)

    return check


def internal_app(sidecar: Sidecar) -> web.Application:
    from edge.api import actors, invoke

    middlewares = [render_errors, internal_check(sidecar)]
    if tracing.tracer() is not None:
        # Outermost, so that the callee's span covers refused calls too.
        middlewares.insert(0, tracing.http_middleware)
    app = web.Application(client_max_size=sidecar.options.max_request_size_mb * 1024 * 1024,
                          middlewares=middlewares)
    app[SIDECAR] = sidecar
    invoke.add_internal_routes(app.router)
    actors.add_internal_routes(app.router)
    return app
