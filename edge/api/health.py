"""Health: /v1.0/healthz (ready, app included) and /v1.0/healthz/outbound
(the sidecar's own API and components ready, whatever the app does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from edge.api.server import SIDECAR
from edge.errors import DaprError, Err

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar


def not_ready(sidecar: Sidecar) -> list[str]:
    """What still keeps the sidecar from being ready, in words an operator knows."""
    waiting = []
    if not sidecar.outbound_ready:
        waiting.append("components and APIs")
    if sidecar.options.app_port is not None and not sidecar.app_ready:
        waiting.append(f"app channel (nothing listens on {sidecar.options.app_channel_address}:"
                       f"{sidecar.options.app_port} yet)")
    return waiting


async def healthz(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    waiting = not_ready(sidecar)
    if waiting:
        raise DaprError(Err.HEALTH_NOT_READY, f"dapr is not ready: [{', '.join(waiting)}]")
    app_id = request.query.get("appid")
    # Lets a caller make sure the port it probes belongs to the app it means.
    if app_id and app_id != sidecar.options.app_id:
        raise DaprError(Err.HEALTH_APPID_NOT_MATCH, "dapr app-id does not match")
    return web.Response(status=204)


async def healthz_outbound(request: web.Request) -> web.Response:
    if not request.app[SIDECAR].outbound_ready:
        raise DaprError(Err.OUTBOUND_NOT_READY, "dapr outbound is not ready")
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/healthz", healthz)
    router.add_get("/v1.0/healthz/outbound", healthz_outbound)
