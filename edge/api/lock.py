"""The distributed lock API (alpha): POST /v1.0-alpha1/lock/{store} and
POST /v1.0-alpha1/unlock/{store}.

Checks run in daprd's order, so a client gets the error Dapr would give:
for a lock, expiryInSeconds first; then whether any lock store exists,
resourceId, lockOwner, and only then whether the named store exists."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.lock.base import IllegalKey, LockStore
from edge.errors import DaprError, Err
from edge.runtime.resiliency import LOCK, OUTBOUND, Policy

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


def _store(request: web.Request, resource_id: str, owner: str) -> LockStore:
    name = request.match_info["store"]
    stores = request.app[SIDECAR].components.of(LockStore)
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


def _outbound(request: web.Request, store: LockStore) -> Policy:
    return request.app[SIDECAR].resiliency.component(store.name, LOCK, OUTBOUND)


async def try_lock(request: web.Request) -> web.Response:
    body = await _body(request)
    resource_id, owner = _string(body, "resourceId"), _string(body, "lockOwner")
    expiry = _expiry(body)
    if expiry <= 0:
        raise _malformed("ExpiryInSeconds is not positive in lock store "
                         f"{request.match_info['store']}")
    store = _store(request, resource_id, owner)
    try:
        key = store.lock_key(resource_id)
        success = await _outbound(request, store).run(lambda: store.try_lock(key, owner, expiry))
    except Exception as exc:  # whatever the store fails with, Dapr reports ERR_TRY_LOCK
        _log_failure(store, exc)
        raise DaprError(Err.TRY_LOCK, f"failed to try acquiring lock: {exc}") from exc
    return web.json_response({"success": success})


async def unlock(request: web.Request) -> web.Response:
    body = await _body(request)
    resource_id, owner = _string(body, "resourceId"), _string(body, "lockOwner")
    store = _store(request, resource_id, owner)
    try:
        key = store.lock_key(resource_id)
        status = await _outbound(request, store).run(lambda: store.unlock(key, owner))
    except Exception as exc:  # as above: ERR_UNLOCK, never an unrelated code
        _log_failure(store, exc)
        raise DaprError(Err.UNLOCK, f"failed to release lock: {exc}") from exc
    return web.json_response({"status": int(status)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1.0-alpha1/lock/{store}", try_lock)
    router.add_post("/v1.0-alpha1/unlock/{store}", unlock)
