"""GET /v1.0/metadata and PUT /v1.0/metadata/{key}."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import __version__
from edge.api.server import SIDECAR

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar


def describe_sidecar(sidecar: Sidecar) -> dict[str, Any]:
    options = sidecar.options
    body: dict[str, Any] = {
        "id": options.app_id,
        "runtimeVersion": __version__,
        "enabledFeatures": sidecar.config.features,
        "actors": [],
        "components": [
            {"name": c.name, "type": c.type_name, "version": c.version,
             "capabilities": c.features()}
            for c in sidecar.components.by_name.values()
        ],
        "extended": {"appCommand": "", **sidecar.extended},
        "subscriptions": [],
        "httpEndpoints": [],
    }
    if options.app_port is not None:
        body["appConnectionProperties"] = {
            "port": options.app_port,
            "protocol": options.app_protocol,
            "channelAddress": options.app_channel_address,
            "maxConcurrency": max(options.app_max_concurrency, 0),
        }
    else:
        body["appConnectionProperties"] = {"protocol": options.app_protocol,
                                           "channelAddress": options.app_channel_address}
    return body


async def get_metadata(request: web.Request) -> web.Response:
    return web.json_response(describe_sidecar(request.app[SIDECAR]))


async def put_metadata(request: web.Request) -> web.Response:
    request.app[SIDECAR].extended[request.match_info["key"]] = await request.text()
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/metadata", get_metadata)
    router.add_put("/v1.0/metadata/{key}", put_metadata)
