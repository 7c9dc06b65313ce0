"""Configuration: GET /v1.0/configuration/{store}, .../subscribe and
.../{id}/unsubscribe, also under /v1.0-alpha1, as daprd serves them.

A change reaches the app as daprd sends it: for each changed key, a POST to
/configuration/{store}/{key} whose body is the whole update,
{"id": subscription id, "items": {key: {value, version, metadata}}}; a deleted
key's item is {}. The app is expected to answer 200; anything else is logged
and the update is not sent again (daprd, without a resiliency policy, neither).

find_store, get_items and subscribe are shared with gRPC
(edge.api.grpc.configuration), whose subscriptions stream their updates."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from edge.api.server import SIDECAR
from edge.components.configuration.base import (
    Changes,
    ConfigurationItem,
    ConfigurationStore,
    SubscriptionNotFound,
    UpdateCallback,
)
from edge.errors import DaprError, Err
from edge.runtime.channel import ChannelError
from edge.runtime.resiliency import CONFIGURATION, OUTBOUND, Policy

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.api.configuration")

# Characters a URL path may carry as they are; a key is sent as daprd sends it
# (appended to the path), escaped only where it would not make a valid URL.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def find_store(sidecar: Sidecar, name: str) -> ConfigurationStore:
    stores = sidecar.components.of(ConfigurationStore)
    if not stores:
        raise DaprError(Err.CONFIGURATION_STORE_NOT_CONFIGURED,
                        "no configuration store is configured")
    store = stores.get(name)
    if store is None:
        raise DaprError(Err.CONFIGURATION_STORE_NOT_FOUND, f"configuration store {name} not found")
    return store


def _keys(request: web.Request) -> list[str]:
    return request.query.getall("key", [])


def _metadata(request: web.Request) -> dict[str, str]:
    return {k[len("metadata."):]: v for k, v in request.query.items() if k.startswith("metadata.")}


def _store(request: web.Request) -> ConfigurationStore:
    return find_store(request.app[SIDECAR], request.match_info["store"])


def _outbound(sidecar: Sidecar, store: ConfigurationStore) -> Policy:
    return sidecar.resiliency.component(store.name, CONFIGURATION, OUTBOUND)


async def get_items(sidecar: Sidecar, store: ConfigurationStore, keys: list[str],
                    meta: dict[str, str]) -> dict[str, ConfigurationItem]:
    try:
        return await _outbound(sidecar, store).run(lambda: store.get(keys, meta))
    except Exception as exc:
        log.warning("configuration store %s: get failed: %s", store.name, exc)
        raise DaprError(Err.CONFIGURATION_GET, f"failed to get {keys} from configuration store "
                        f"{store.name}: {exc}") from None


async def subscribe(sidecar: Sidecar, store: ConfigurationStore, keys: list[str],
                    meta: dict[str, str], callback: UpdateCallback) -> str:
    """A new subscription's id; the callback gets each change from now on."""
    try:
        return await _outbound(sidecar, store).run(lambda: store.subscribe(keys, meta, callback))
    except Exception as exc:
        log.warning("configuration store %s: subscribe failed: %s", store.name, exc)
        raise DaprError(Err.CONFIGURATION_SUBSCRIBE, f"failed to subscribe {keys} from "
                        f"configuration store {store.name}: {exc}") from None


async def get_configuration(request: web.Request) -> web.Response:
    store = _store(request)
    items = await get_items(request.app[SIDECAR], store, _keys(request), _metadata(request))
    if not items:
        # daprd answers an empty result with 204 and no body.
        return web.Response(status=204)
    return web.json_response({key: item.to_json() for key, item in items.items()})


def _pusher(sidecar: Sidecar, store: str) -> UpdateCallback:
    async def push(subscription_id: str, changes: Changes) -> None:
        if sidecar.stop_requested.is_set():
            return
        body = json.dumps({"id": subscription_id, "items": {
            key: item.to_json() if item is not None else {} for key, item in changes.items()
        }}).encode()
        for key in changes:
            path = f"/configuration/{quote(store, safe=_PATH_SAFE)}/{quote(key, safe=_PATH_SAFE)}"
            headers = CIMultiDict({"Content-Type": "application/json", **sidecar.app_headers()})
            try:
                reply = await sidecar.app.request("POST", sidecar.app_url + path, headers, body)
            except (ChannelError, ValueError) as exc:
                log.warning("configuration update for %s not delivered to the app: %s", path, exc)
                continue
            if reply.status != 200:
                log.warning("configuration update for %s: the app answered %d", path,
                            reply.status)

    return push


async def subscribe_configuration(request: web.Request) -> web.Response:
    store = _store(request)
    sidecar = request.app[SIDECAR]
    if sidecar.options.app_port is None:
        raise DaprError(Err.APP_CHANNEL_NIL, "app channel is not initialized: cannot subscribe "
                        "to configuration updates without --app-port")
    subscription_id = await subscribe(sidecar, store, _keys(request), _metadata(request),
                                      _pusher(sidecar, store.name))
    return web.json_response({"id": subscription_id})


async def unsubscribe_configuration(request: web.Request) -> web.Response:
    store = _store(request)
    subscription_id = request.match_info["id"]
    try:
        await store.unsubscribe(subscription_id)
    except SubscriptionNotFound:
        # daprd's failure body is {"ok": false, "message"}; the error code rides along.
        raise DaprError(Err.CONFIGURATION_UNSUBSCRIBE,
                        f"failed to unsubscribe to configuration request {subscription_id}: "
                        f"subscription {subscription_id} does not exist in configuration store "
                        f"{store.name}", details={"ok": False}) from None
    return web.json_response({"ok": True})


def add_routes(router: web.UrlDispatcher) -> None:
    for version in ("v1.0", "v1.0-alpha1"):
        base = f"/{version}/configuration/{{store}}"
        router.add_get(base, get_configuration)
        router.add_get(base + "/subscribe", subscribe_configuration)
        router.add_get(base + "/{id}/unsubscribe", unsubscribe_configuration)
