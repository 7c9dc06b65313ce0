"""The distributed lock API (alpha): POST /v1.0-alpha1/lock/{store} and
POST /v1.0-alpha1/unlock/{store}.

Checks run in daprd's order, so a client gets the error Dapr would give:
for a lock, expiryInSeconds first; then whether any lock store exists,
resourceId, lockOwner, and only then whether the named store exists.

check_expiry, find_store, acquire and release are shared with gRPC
(edge.api.grpc.lock)."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.lock.base import IllegalKey, LockStore, UnlockStatus
from edge.errors import DaprError, Err
from edge.runtime.resiliency import LOCK, OUTBOUND, Policy

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.api.lock")

_INT32 = (-(2**31), 2**31 - 1)
_INTEGER = re.compile(r"-?[0-9]+")


def _malformed(message: str) -> DaprError:
    return DaprError(Err.MALFORMED_REQUEST, message)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    # daprd reads an empty body as a request with every field unset.
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _malformed(f"failed deserializing HTTP body: {exc}") from None
    if not isinstance(body, dict):
        raise _malformed("failed deserializing HTTP body: expected a JSON object")
    return body


def _string(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:  # protobuf JSON: null leaves the field unset
        return ""
    if not isinstance(value, str):
        raise _malformed(f"failed deserializing HTTP body: {field} must be a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
            raise _malformed(f"failed deserializing HTTP body: {field} is not valid "
                             "unicode") from None
    return value


def _expiry(body: dict[str, Any]) -> int:
    """expiryInSeconds as protobuf JSON reads an int32: a whole number, or a
    string of digits."""
    value = body.get("expiryInSeconds")
    if value is None:
        return 0
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    if number is None or not _INT32[0] <= number <= _INT32[1]:
        raise _malformed("failed deserializing HTTP body: expiryInSeconds must be a "
                         "32-bit integer")
    return number


def check_expiry(expiry: int, name: str) -> None:
    if expiry <= 0:
        raise _malformed(f"ExpiryInSeconds is not positive in lock store {name}")


def find_store(sidecar: Sidecar, name: str, resource_id: str, owner: str) -> LockStore:
    """The named lock store, after daprd's checks of the request in daprd's order."""
    stores = sidecar.components.of(LockStore)
    if not stores:
        raise DaprError(Err.LOCK_STORE_NOT_CONFIGURED, "lock store is not configured")
    if not resource_id:
        raise _malformed(f"ResourceId is empty in lock store {name}")
    if not owner:
        raise _malformed(f"LockOwner is empty in lock store {name}")
    store = stores.get(name)
    if store is None:
        raise DaprError(Err.LOCK_STORE_NOT_FOUND, f"lock store {name} not found")
    return store


def _log_failure(store: LockStore, exc: Exception) -> None:
    # A refused resource id is the client's doing; anything else is the store's.
    if not isinstance(exc, IllegalKey):
        log.warning("lock store %s failed: %r", store.name, exc)


def _outbound(sidecar: Sidecar, store: LockStore) -> Policy:
    return sidecar.resiliency.component(store.name, LOCK, OUTBOUND)


async def acquire(sidecar: Sidecar, store: LockStore, resource_id: str, owner: str,
                  expiry: int) -> bool:
    try:
        key = store.lock_key(resource_id)
        return await _outbound(sidecar, store).run(lambda: store.try_lock(key, owner, expiry))
    except Exception as exc:  # whatever the store fails with, Dapr reports ERR_TRY_LOCK
        _log_failure(store, exc)
        raise DaprError(Err.TRY_LOCK, f"failed to try acquiring lock: {exc}") from exc


async def release(sidecar: Sidecar, store: LockStore, resource_id: str,
                  owner: str) -> UnlockStatus:
    try:
        key = store.lock_key(resource_id)
        return await _outbound(sidecar, store).run(lambda: store.unlock(key, owner))
    except Exception as exc:  # as above: ERR_UNLOCK, never an unrelated code
        _log_failure(store, exc)
        raise DaprError(Err.UNLOCK, f"failed to release lock: {exc}") from exc


async def try_lock(request: web.Request) -> web.Response:
    body = await _body(request)
    resource_id, owner = _string(body, "resourceId"), _string(body, "lockOwner")
    expiry = _expiry(body)
    name, sidecar = request.match_info["store"], request.app[SIDECAR]
    check_expiry(expiry, name)
    store = find_store(sidecar, name, resource_id, owner)
    success = await acquire(sidecar, store, resource_id, owner, expiry)
    return web.json_response({"success": success})


async def unlock(request: web.Request) -> web.Response:
    body = await _body(request)
    resource_id, owner = _string(body, "resourceId"), _string(body, "lockOwner")
    sidecar = request.app[SIDECAR]
    store = find_store(sidecar, request.match_info["store"], resource_id, owner)
    status = await release(sidecar, store, resource_id, owner)
    return web.json_response({"status": int(status)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1.0-alpha1/lock/{store}", try_lock)
    router.add_post("/v1.0-alpha1/unlock/{store}", unlock)
