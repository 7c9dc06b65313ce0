"""The state API: save, get, bulk get, delete, transactions and the alpha
query API, with Dapr's paths, status codes and error codes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from edge.api.rawjson import RawJSONError, RawValue, loads_keeping
from edge.api.server import SIDECAR
from edge.components.state.base import (
    KEY_SEPARATOR,
    DeleteOp,
    EtagInvalid,
    EtagMismatch,
    Query,
    Queryable,
    SetOp,
    StateStore,
    StoredItem,
    Transactional,
)
from edge.components.state.query import QueryError
from edge.errors import DaprError, Err, Kind

_CONCURRENCY = {None: False, "": False, "last-write": False, "first-write": True}
_CONSISTENCY = (None, "", "eventual", "strong")
_JSON = "application/json"


def _store(request: web.Request) -> StateStore:
    stores = request.app[SIDECAR].components.of(StateStore)
    name = request.match_info["store"]
    if not stores:
        raise DaprError(Err.STATE_STORE_NOT_CONFIGURED, f"state store {name} is not configured")
    store = stores.get(name)
    if store is None:
        raise DaprError(Err.STATE_STORE_NOT_FOUND, f"state store {name} is not found")
    return store


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return loads_keeping(raw.decode("utf-8"))
    except (UnicodeDecodeError, RawJSONError) as exc:
        raise DaprError(Err.MALFORMED_REQUEST, f"failed to parse the JSON body: {exc}") from None


def _malformed(message: str) -> DaprError:
    return DaprError(Err.MALFORMED_REQUEST, message)


class _BadOption(ValueError):
    """An option or metadata value the store refuses (Dapr: a store error, 500)."""


def _key(store: StateStore, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise _malformed('"key" is a required field')
    if KEY_SEPARATOR in key:
        raise _malformed(f"input key {key!r} can't contain '{KEY_SEPARATOR}'")
    return store.key_prefix() + key


def _options(options: Any) -> bool:
    """Validated options; True for first-write concurrency."""
    if options is None:
        return False
    if not isinstance(options, dict):
        raise _malformed("options must be an object")
    concurrency, consistency = options.get("concurrency"), options.get("consistency")
    if concurrency not in _CONCURRENCY:
        raise _BadOption(f"unrecognized concurrency model {concurrency!r}")
    if consistency not in _CONSISTENCY:
        raise _BadOption(f"unrecognized consistency model {consistency!r}")
    return _CONCURRENCY[concurrency]


def _metadata(meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise _malformed("metadata must be an object of strings")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _ttl(meta: dict[str, str]) -> float | None:
    raw = meta.get("ttlInSeconds")
    if raw is None or raw == "":
        return None
    try:
        seconds = int(raw)
    except ValueError:
        raise _BadOption(f"incorrect value for metadata 'ttlInSeconds': {raw!r}") from None
    if seconds < -1:
        raise _BadOption(f"incorrect value for metadata 'ttlInSeconds': {seconds} (-1 or more)")
    # 0 and -1 mean: no expiry (and an update clears an earlier one).
    return float(seconds) if seconds > 0 else None


def _etag(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _malformed("etag must be a string")
    return value


def _set_op(store: StateStore, item: Any, query_meta: dict[str, str]) -> SetOp:
    if not isinstance(item, dict):
        raise _malformed("each state item must be an object with a key and a value")
    raw = item.get("value")
    text = raw.text if isinstance(raw, RawValue) else "null"
    return SetOp(
        key=_key(store, item.get("key")), value=text.encode("utf-8"),
        etag=_etag(item.get("etag")), first_write=_options(item.get("options")),
        ttl=_ttl({**_metadata(item.get("metadata")), **query_meta}),
    )


def _query_metadata(request: web.Request) -> dict[str, str]:
    return {k[9:]: v for k, v in request.query.items() if k.startswith("metadata.")}


def _delete_op(store: StateStore, item: Any) -> DeleteOp:
    if not isinstance(item, dict):
        raise _malformed("each delete request must be an object with a key")
    return DeleteOp(key=_key(store, item.get("key")), etag=_etag(item.get("etag")),
                    first_write=_options(item.get("options")))


def _etag_failure(exc: Exception, mismatch: Kind, invalid: Kind, key: str) -> DaprError:
    if isinstance(exc, EtagInvalid):
        return DaprError(invalid, f"failed saving state {key}: invalid etag")
    return DaprError(mismatch, f"possible etag mismatch for key {key}: the etag given does "
                     "not match the stored item, or the item does not exist")


def _expire_time(item: StoredItem) -> str | None:
    if item.expires_at is None:
        return None
    return datetime.fromtimestamp(int(item.expires_at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _data_json(item: StoredItem) -> str:
    """The item's value as JSON text for embedding in a response."""
    if item.is_binary:
        return json.dumps(base64.b64encode(item.value).decode("ascii"))
    return item.value.decode("utf-8")


def _entry_json(key: str, item: StoredItem | None) -> str:
    """One {key, data, etag, metadata} entry, with the value embedded unchanged."""
    parts = [f'"key":{json.dumps(key)}']
    if item is not None:
        parts.append(f'"data":{_data_json(item)}')
        parts.append(f'"etag":{json.dumps(item.etag)}')
        expire = _expire_time(item)
        if expire:
            parts.append(f'"metadata":{{"ttlExpireTime":{json.dumps(expire)}}}')
    return "{" + ",".join(parts) + "}"


async def save_state(request: web.Request) -> web.Response:
    store = _store(request)
    items = await _body(request)
    if not isinstance(items, list):
        raise _malformed("the body must be a JSON array of state items")
    try:
        ops = [_set_op(store, item, _query_metadata(request)) for item in items]
    except _BadOption as exc:
        raise DaprError(Err.STATE_SAVE, f"failed saving state in state store {store.name}: "
                        f"{exc}") from None
    for op in ops:
        try:
            await store.set(op)
        except (EtagMismatch, EtagInvalid) as exc:
            raise _etag_failure(exc, Err.STATE_ETAG_MISMATCH, Err.STATE_ETAG_INVALID,
                                op.key[len(store.key_prefix()):]) from None
        except Exception as exc:
            raise DaprError(Err.STATE_SAVE, f"failed saving state in state store {store.name}: "
                            f"{exc}") from None
    return web.Response(status=204)


async def get_state(request: web.Request) -> web.Response:
    store = _store(request)
    key = _key(store, request.match_info["key"])
    try:
        item = await store.get(key)
    except Exception as exc:
        raise DaprError(Err.STATE_GET, f"fail to get {request.match_info['key']} from state "
                        f"store {store.name}: {exc}") from None
    if item is None:
        return web.Response(status=204)
    headers = {"ETag": item.etag}
    expire = _expire_time(item)
    if expire:
        headers["metadata.ttlExpireTime"] = expire
    content_type = "application/octet-stream" if item.is_binary else _JSON
    return web.Response(body=item.value, headers=headers, content_type=content_type)


async def bulk_get(request: web.Request) -> web.Response:
    store = _store(request)
    body = await _body(request)
    if not isinstance(body, dict):
        raise _malformed("the body must be an object with keys: a list of strings")
    keys = body.get("keys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _malformed("keys must be a list of strings")
    full = [_key(store, k) for k in keys]
    try:
        found = await store.bulk_get(list(dict.fromkeys(full)))
    except Exception as exc:
        raise DaprError(Err.STATE_BULK_GET, f"failed getting state in bulk from {store.name}: "
                        f"{exc}") from None
    text = "[" + ",".join(_entry_json(k, found.get(f)) for k, f in zip(keys, full, strict=True))
    return web.Response(text=text + "]", content_type=_JSON)


async def delete_state(request: web.Request) -> web.Response:
    store = _store(request)
    key = request.match_info["key"]
    full = _key(store, key)
    try:
        first_write = _options({"concurrency": request.query.get("concurrency"),
                                "consistency": request.query.get("consistency")})
    except _BadOption as exc:
        raise DaprError(Err.STATE_DELETE, f"failed deleting state with key {key}: {exc}") from None
    op = DeleteOp(full, _etag(request.headers.get("If-Match")), first_write)
    try:
        await store.delete(op)
    except (EtagMismatch, EtagInvalid) as exc:
        raise _etag_failure(exc, Err.STATE_DELETE_ETAG_MISMATCH, Err.STATE_DELETE_ETAG_INVALID,
                            key) from None
    except Exception as exc:
        raise DaprError(Err.STATE_DELETE, f"failed deleting state with key {key}: {exc}") from None
    return web.Response(status=204)


def _transaction_op(store: StateStore, entry: Any, query_meta: dict[str, str]) -> SetOp | DeleteOp:
    if not isinstance(entry, dict):
        raise _malformed("each operation must be an object with operation and request")
    kind, req = entry.get("operation"), entry.get("request")
    if kind == "upsert":
        return _set_op(store, req, query_meta)
    if kind == "delete":
        return _delete_op(store, req)
    raise DaprError(Err.STATE_OPERATION_NOT_SUPPORTED, f"operation type {kind} not supported")


async def transaction(request: web.Request) -> web.Response:
    store = _store(request)
    if not isinstance(store, Transactional):
        raise DaprError(Err.STATE_STORE_NOT_SUPPORTED,
                        f"state store {store.name} doesn't support transactions")
    body = await _body(request)
    operations = body.get("operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        raise _malformed("the body must be an object with operations: a list")
    try:
        ops = [_transaction_op(store, entry, _query_metadata(request)) for entry in operations]
    except _BadOption as exc:
        raise DaprError(Err.STATE_TRANSACTION,
                        f"error while executing state transaction: {exc}") from None
    if not ops:
        return web.Response(status=204)
    try:
        await store.transact(ops)
    except (EtagMismatch, EtagInvalid) as exc:
        raise DaprError(Err.STATE_TRANSACTION, f"error while executing state transaction: "
                        f"possible etag mismatch for key {exc}") from None
    except Exception as exc:
        raise DaprError(Err.STATE_TRANSACTION,
                        f"error while executing state transaction: {exc}") from None
    return web.Response(status=204)


async def query_state(request: web.Request) -> web.Response:
    store = _store(request)
    if not isinstance(store, Queryable):
        raise DaprError(Err.STATE_STORE_NOT_SUPPORTED,
                        f"state store {store.name} doesn't support query")
    body = await _body(request)
    if not isinstance(body, dict):
        raise DaprError(Err.STATE_QUERY, "the query must be a JSON object")
    page = body.get("page") or {}
    if not isinstance(page, dict):
        raise DaprError(Err.STATE_QUERY, "page must be an object")
    try:
        limit = int(page.get("limit") or 0)
        token = page.get("token") or None
        if token is not None and (not str(token).isdigit()):
            raise QueryError(f"invalid page token {token!r}")
        query = Query(filter=body.get("filter") or {}, sort=body.get("sort") or [],
                      limit=max(limit, 0), token=token)
        if not isinstance(query.sort, list):
            raise QueryError("sort must be a list")
        result = await store.query(query, store.key_prefix())
    except (QueryError, ValueError, TypeError) as exc:
        raise DaprError(Err.STATE_QUERY, f"failed query in state store {store.name}: "
                        f"{exc}") from None
    if not result.items:
        return web.Response(status=204)
    results = ",".join(_entry_json(key, item) for key, item in result.items)
    text = '{"results":[' + results + "]"
    if result.token:
        text += f',"token":{json.dumps(result.token)}'
    return web.Response(text=text + "}", content_type=_JSON)


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1.0/state/{store}"
    router.add_post(base, save_state)
    router.add_put(base, save_state)
    router.add_post(base + "/bulk", bulk_get)
    router.add_put(base + "/bulk", bulk_get)
    router.add_post(base + "/transaction", transaction)
    router.add_put(base + "/transaction", transaction)
    router.add_get(base + "/{key}", get_state)
    router.add_delete(base + "/{key}", delete_state)
    for version in ("v1.0-alpha1", "v1.0-beta1"):
        router.add_post(f"/{version}/state/{{store}}/query", query_state)
        router.add_put(f"/{version}/state/{{store}}/query", query_state)
