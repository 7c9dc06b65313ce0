"""Secrets: GET /v1.0/secrets/{store}/{name} and /v1.0/secrets/{store}/bulk.

find_store, read_secret and read_permitted are shared with gRPC
(edge.api.grpc.secrets): the same checks, secret scopes and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.secretstores.base import SecretNotFound, SecretStore
from edge.errors import DaprError, Err
from edge.runtime.resiliency import OUTBOUND, SECRETSTORE, BreakerOpen, Policy, PolicyTimeout

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar


def find_store(sidecar: Sidecar, name: str) -> SecretStore:
    stores = sidecar.components.of(SecretStore)
    if not stores:
        raise DaprError(Err.SECRET_STORES_NOT_CONFIGURED, "secret store is not configured")
    store = stores.get(name)
    if store is None:
        raise DaprError(Err.SECRET_STORE_NOT_FOUND, f"failed finding secret store with key {name}")
    return store


def _outbound(sidecar: Sidecar, store: SecretStore) -> Policy:
    return sidecar.resiliency.component(store.name, SECRETSTORE, OUTBOUND)


async def read_secret(sidecar: Sidecar, store: SecretStore, name: str,
                      meta: dict[str, str]) -> dict[str, str]:
    """One secret's key/value pairs, if the secret scopes permit reading it."""
    # Checked before the store is asked, so a denied secret is never read.
    if not sidecar.config.secrets.permits(store.name, name):
        raise DaprError(Err.SECRET_PERMISSION_DENIED,
                        f"access denied by policy to get \"{name}\" from \"{store.name}\"")
    try:
        return await _outbound(sidecar, store).run(lambda: store.get(name, meta))
    except SecretNotFound:
        raise DaprError(Err.SECRET_GET, f"failed getting secret with key {name} from "
                        f"secret store {store.name}: secret {name} not found") from None
    except (BreakerOpen, PolicyTimeout) as exc:
        raise DaprError(Err.SECRET_GET, f"failed getting secret with key {name} from "
                        f"secret store {store.name}: {exc}") from None


async def read_permitted(sidecar: Sidecar, store: SecretStore,
                         meta: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every secret the scopes permit; as in Dapr, the others are left out without an error."""
    scopes = sidecar.config.secrets
    try:
        found = await _outbound(sidecar, store).run(lambda: store.bulk(meta))
    except (BreakerOpen, PolicyTimeout) as exc:
        raise DaprError(Err.SECRET_GET, f"failed getting secrets from secret store "
                        f"{store.name}: {exc}") from None
    return {k: v for k, v in found.items() if scopes.permits(store.name, k)}


def _metadata(request: web.Request) -> dict[str, str]:
    return {k[len("metadata."):]: v for k, v in request.query.items() if k.startswith("metadata.")}


async def get_secret(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    store = find_store(sidecar, request.match_info["store"])
    values = await read_secret(sidecar, store, request.match_info["name"], _metadata(request))
    return web.json_response(values)


async def bulk_secrets(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    store = find_store(sidecar, request.match_info["store"])
    return web.json_response(await read_permitted(sidecar, store, _metadata(request)))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/secrets/{store}/bulk", bulk_secrets)
    router.add_get("/v1.0/secrets/{store}/{name}", get_secret)
