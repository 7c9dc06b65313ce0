"""Secrets: GET /v1.0/secrets/{store}/{name} and /v1.0/secrets/{store}/bulk."""

from __future__ import annotations

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.secretstores.base import SecretNotFound, SecretStore
from edge.errors import DaprError, Err
from edge.runtime.resiliency import OUTBOUND, SECRETSTORE, BreakerOpen, Policy, PolicyTimeout


def _store(request: web.Request) -> SecretStore:
    stores = request.app[SIDECAR].components.of(SecretStore)
    if not stores:
        raise DaprError(Err.SECRET_STORES_NOT_CONFIGURED, "secret store is not configured")
    name = request.match_info["store"]
    store = stores.get(name)
    if store is None:
        raise DaprError(Err.SECRET_STORE_NOT_FOUND, f"failed finding secret store with key {name}")
    return store


def _metadata(request: web.Request) -> dict[str, str]:
    return {k[len("metadata."):]: v for k, v in request.query.items() if k.startswith("metadata.")}


def _outbound(request: web.Request, store: SecretStore) -> Policy:
    return request.app[SIDECAR].resiliency.component(store.name, SECRETSTORE, OUTBOUND)


async def get_secret(request: web.Request) -> web.Response:
    store = _store(request)
    name = request.match_info["name"]
    # Checked before the store is asked, so a denied secret is never read.
    if not request.app[SIDECAR].config.secrets.permits(store.name, name):
        raise DaprError(Err.SECRET_PERMISSION_DENIED,
                        f"access denied by policy to get \"{name}\" from \"{store.name}\"")
    policy = _outbound(request, store)
    try:
        values = await policy.run(lambda: store.get(name, _metadata(request)))
    except SecretNotFound:
        raise DaprError(Err.SECRET_GET, f"failed getting secret with key {name} from "
                        f"secret store {store.name}: secret {name} not found") from None
    except (BreakerOpen, PolicyTimeout) as exc:
        raise DaprError(Err.SECRET_GET, f"failed getting secret with key {name} from "
                        f"secret store {store.name}: {exc}") from None
    return web.json_response(values)


async def bulk_secrets(request: web.Request) -> web.Response:
    store = _store(request)
    scopes = request.app[SIDECAR].config.secrets
    # As in Dapr, bulk answers with the permitted secrets only, without an error.
    try:
        found = await _outbound(request, store).run(lambda: store.bulk(_metadata(request)))
    except (BreakerOpen, PolicyTimeout) as exc:
        raise DaprError(Err.SECRET_GET, f"failed getting secrets from secret store "
                        f"{store.name}: {exc}") from None
    return web.json_response({k: v for k, v in found.items() if scopes.permits(store.name, k)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/secrets/{store}/bulk", bulk_secrets)
    router.add_get("/v1.0/secrets/{store}/{name}", get_secret)
