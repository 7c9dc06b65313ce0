"""GET /v1.0/metadata and PUT /v1.0/metadata/{key}.

The shape follows daprd's JSON encoding: empty lists and optional fields are
left out rather than sent empty, so clients that test for presence behave as
they do against Dapr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import __version__
from edge.api.server import SIDECAR

if TYPE_CHECKING:
    from edge.components.base import Component
    from edge.runtime.sidecar import Sidecar


def _component(component: Component) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": component.name, "type": component.type_name,
                             "version": component.version}
    capabilities = component.features()
    if capabilities:
        entry["capabilities"] = capabilities
    # An edge addition; Dapr clients ignore fields they do not know.
    status = component.status()
    if status:
        entry["status"] = status
    return entry


def _app_connection(sidecar: Sidecar) -> dict[str, Any]:
    options = sidecar.options
    found: dict[str, Any] = {}
    if options.app_port is not None:
        found["port"] = options.app_port
    found["protocol"] = options.app_protocol
    found["channelAddress"] = options.app_channel_address
    if options.app_max_concurrency > 0:
        found["maxConcurrency"] = options.app_max_concurrency
    return found


def _actor_counts(sidecar: Sidecar) -> list[dict[str, Any]]:
    counts = {t: 0 for t in sidecar.actors.config.entities}
    for actor_type, _ in sidecar.actors.active:
        counts[actor_type] = counts.get(actor_type, 0) + 1
    return [{"type": t, "count": n} for t, n in counts.items()]


def _actor_runtime(sidecar: Sidecar) -> dict[str, Any]:
    # Placement is the edge home's registry, not a placement service.
    running = sidecar.actors.store is not None
    return {"runtimeStatus": "RUNNING" if running else "DISABLED",
            "activeActors": _actor_counts(sidecar),
            "hostReady": bool(sidecar.actors.config.entities),
            "placement": "placement: local registry" if running else ""}


def describe_sidecar(sidecar: Sidecar) -> dict[str, Any]:
    lists: dict[str, list[Any]] = {
        "enabledFeatures": sidecar.config.features,
        "components": [_component(c) for c in sidecar.components.by_name.values()],
        "subscriptions": sidecar.pubsub.describe(),
        "actors": _actor_counts(sidecar),
    }
    body: dict[str, Any] = {"id": sidecar.options.app_id, "runtimeVersion": __version__}
    body.update({key: value for key, value in lists.items() if value})
    # Set last: the deprecated field clients still read cannot be overwritten by a PUT.
    body["extended"] = {**sidecar.extended, "daprRuntimeVersion": __version__}
    body["appConnectionProperties"] = _app_connection(sidecar)
    body["actorRuntime"] = _actor_runtime(sidecar)
    return body


async def get_metadata(request: web.Request) -> web.Response:
    return web.json_response(describe_sidecar(request.app[SIDECAR]))


async def put_metadata(request: web.Request) -> web.Response:
    # Dapr keeps the raw body as a string whatever its bytes or declared charset;
    # undecodable bytes must not turn into a server error.
    value = (await request.read()).decode("utf-8", errors="replace")
    request.app[SIDECAR].extended[request.match_info["key"]] = value
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/metadata", get_metadata)
    router.add_put("/v1.0/metadata/{key}", put_metadata)
