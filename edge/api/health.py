"""Health: /v1.0/healthz (ready, app included) and /v1.0/healthz/outbound
(the sidecar's own API and components ready, whatever the app does)."""

from __future__ import annotations

from aiohttp import web

from edge.api.server import SIDECAR
from edge.errors import DaprError, Err


async def healthz(request: web.Request) -> web.Response:
    if not request.app[SIDECAR].ready:
        raise DaprError(Err.HEALTH_NOT_READY, "dapr is not ready")
    return web.Response(status=204)


async def healthz_outbound(request: web.Request) -> web.Response:
    if not request.app[SIDECAR].outbound_ready:
        raise DaprError(Err.OUTBOUND_NOT_READY, "dapr outbound is not ready")
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/healthz", healthz)
    router.add_get("/v1.0/healthz/outbound", healthz_outbound)
