"""The state API: save, get, bulk get, delete, transactions and the alpha
query API, with Dapr's paths, status codes and error codes.

Requests are checked in Dapr's order: the store first, then the body's
shape (400), and only then what the store itself would refuse (options,
ttl: 500), so a client sees the same error Dapr would give.

The first half of this module is what HTTP and gRPC (edge.api.grpc.state)
share: finding the store, key prefixes, options and ttl, and running each
operation through the store's resiliency policy with Dapr's verdict on a
failure. The second half reads and writes HTTP."""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.state.base import (
    KEY_SEPARATOR,
    DeleteOp,
    EtagInvalid,
    EtagMismatch,
    Query,
    Queryable,
    QueryResult,
    SetOp,
    StateStore,
    StoredItem,
    Transactional,
)
from edge.errors import DaprError, Err, Kind
from edge.rawjson import RawJSONError, RawValue, loads_keeping
from edge.runtime import metrics
from edge.runtime.pubsub import publishing
from edge.runtime.resiliency import OUTBOUND, STATESTORE, Policy

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

_CONCURRENCY = {None: False, "": False, "last-write": False, "first-write": True}
_CONSISTENCY = (None, "", "eventual", "strong")
_JSON = "application/json"
_TTL = re.compile(r"[+-]?[0-9]+")  # Go's strconv.Atoi: no spaces, no underscores
_MAX_TTL = 2**31 - 1  # Dapr's sqlite store refuses more than MaxInt32

Op = TypeVar("Op", bound=SetOp | DeleteOp)


class BadOption(ValueError):
    """An option or metadata value the store refuses (Dapr: a store error, 500)."""


# ---- shared by HTTP and gRPC ----

def find_store(sidecar: Sidecar, name: str) -> StateStore:
    components = sidecar.components
    store = components.by_name.get(name)
    if isinstance(store, StateStore):
        return store
    if not components.of(StateStore):
        raise DaprError(Err.STATE_STORE_NOT_CONFIGURED, f"state store {name} is not configured")
    raise DaprError(Err.STATE_STORE_NOT_FOUND, f"state store {name} is not found")


def outbound(sidecar: Sidecar, store: StateStore) -> Policy:
    """The store's resiliency policy (timeouts, retries, circuit breaker)."""
    return sidecar.resiliency.component(store.name, STATESTORE, OUTBOUND)


def malformed(message: str) -> DaprError:
    return DaprError(Err.MALFORMED_REQUEST, message)


def full_key(store: StateStore, key: Any) -> str:
    """The key as the store keeps it: the store's prefix, then the app's key."""
    if not isinstance(key, str) or not key:
        raise malformed('"key" is a required field')
    if KEY_SEPARATOR in key:
        raise malformed(f"input key/keyPrefix '{key}' can't contain '{KEY_SEPARATOR}'")
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
            raise malformed(f"key {key!r} is not valid unicode") from None
    return store.key_prefix() + key


def user_key(store: StateStore, stored_key: str) -> str:
    return stored_key[len(store.key_prefix()):]


def first_write(concurrency: Any, consistency: Any) -> bool:
    """Validated options; True for first-write concurrency."""
    if concurrency not in _CONCURRENCY:
        raise BadOption(f"unrecognized concurrency model '{concurrency}'")
    if consistency not in _CONSISTENCY:
        raise BadOption(f"unrecognized consistency model '{consistency}'")
    return _CONCURRENCY[concurrency]


def ttl_of(meta: dict[str, str]) -> float | None:
    """metadata.ttlInSeconds as the store takes it: None for no expiry."""
    raw = meta.get("ttlInSeconds")
    if raw is None or raw == "":
        return None
    if not _TTL.fullmatch(raw) or not -1 <= int(raw) <= _MAX_TTL:
        raise BadOption(f"incorrect value for metadata 'ttlInSeconds': {raw!r} "
                        f"(a whole number from -1 to {_MAX_TTL})")
    seconds = int(raw)
    # 0 and -1 mean: no expiry (and an update clears an earlier one).
    return float(seconds) if seconds > 0 else None


def expire_time(item: StoredItem) -> str | None:
    """metadata.ttlExpireTime of an item that expires, as Dapr formats it."""
    if item.expires_at is None:
        return None
    return datetime.fromtimestamp(int(item.expires_at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_all(entries: Sequence[Any], parse: Callable[[Any], Op]) -> list[Op]:
    """Every entry parsed; a malformed one (400) is reported before any
    option the store would refuse (500), wherever they are in the list."""
    ops: list[Op] = []
    refused: BadOption | None = None
    for entry in entries:
        try:
            ops.append(parse(entry))
        except BadOption as exc:
            refused = refused or exc
    if refused is not None:
        raise refused
    return ops


def _bulk_failure(store: StateStore, failures: list[tuple[Op, Exception]], prefix: str,
                  kinds: tuple[Kind, Kind, Kind]) -> DaprError:
    """Dapr's verdict on items tried one by one (kinds: other failure, etag
    mismatch, invalid etag): the mismatch kind (409, gRPC Aborted) if every
    failure was an etag mismatch, the invalid kind (400) if one was an invalid
    etag, the other kind (500) if the store failed otherwise."""
    failed, mismatch, invalid = kinds
    others = [exc for _, exc in failures if not isinstance(exc, EtagMismatch | EtagInvalid)]
    if others:
        return DaprError(failed, prefix + str(others[0]))
    keys = ", ".join(user_key(store, op.key) for op, _ in failures)
    if any(isinstance(exc, EtagInvalid) for _, exc in failures):
        return DaprError(invalid, f"{prefix}invalid etag value: key {keys}")
    return DaprError(mismatch, f"{prefix}possible etag mismatch. error from state store: "
                     f"etag mismatch for key {keys}")


async def _each(sidecar: Sidecar, store: StateStore, ops: Sequence[Op],
                call: Callable[[Op], Any], operation: str) -> list[tuple[Op, Exception]]:
    """Like Dapr's BulkSet and BulkDelete: items are independent, each is tried."""
    failures: list[tuple[Op, Exception]] = []
    for op in ops:
        try:
            with metrics.state_op(store.name, operation):
                await outbound(sidecar, store).run(functools.partial(call, op))
        except Exception as exc:  # any store failure is reported, not raised
            failures.append((op, exc))
    return failures


async def save_items(sidecar: Sidecar, store: StateStore, ops: Sequence[SetOp]) -> None:
    failures = await _each(sidecar, store, ops, store.set, "set")
    if failures:
        raise _bulk_failure(store, failures, f"failed saving state in state store {store.name}: ",
                            (Err.STATE_SAVE, Err.STATE_ETAG_MISMATCH, Err.STATE_ETAG_INVALID))


def save_refused(store: StateStore, exc: BadOption) -> DaprError:
    return DaprError(Err.STATE_SAVE, f"failed saving state in state store {store.name}: {exc}")


async def get_item(sidecar: Sidecar, store: StateStore, key: str) -> StoredItem | None:
    stored = full_key(store, key)
    try:
        with metrics.state_op(store.name, "get"):
            return await outbound(sidecar, store).run(lambda: store.get(stored))
    except Exception as exc:
        raise DaprError(Err.STATE_GET, f"fail to get {key} from state store {store.name}: "
                        f"{exc}") from None


async def get_items(sidecar: Sidecar, store: StateStore,
                    keys: Sequence[str]) -> list[tuple[str, StoredItem | None]]:
    """Each key asked for, with its item if stored. Unlike Dapr's sqlite store,
    results always come in request order, repeated keys too."""
    stored = [full_key(store, k) for k in keys]
    try:
        with metrics.state_op(store.name, "bulk_get"):
            found = await outbound(sidecar, store).run(
                lambda: store.bulk_get(list(dict.fromkeys(stored))))
    except Exception as exc:
        raise DaprError(Err.STATE_BULK_GET, str(exc)) from None
    return [(k, found.get(s)) for k, s in zip(keys, stored, strict=True)]


async def delete_item(sidecar: Sidecar, store: StateStore, key: str, op: DeleteOp) -> None:
    prefix = f"failed deleting state with key {key}: "
    try:
        with metrics.state_op(store.name, "delete"):
            await outbound(sidecar, store).run(lambda: store.delete(op))
    except EtagInvalid:
        raise DaprError(Err.STATE_DELETE_ETAG_INVALID, prefix + "invalid etag value") from None
    except EtagMismatch:
        raise DaprError(Err.STATE_DELETE_ETAG_MISMATCH,
                        prefix + "possible etag mismatch. error from state store") from None
    except Exception as exc:
        raise DaprError(Err.STATE_DELETE, prefix + str(exc)) from None


async def delete_items(sidecar: Sidecar, store: StateStore, ops: Sequence[DeleteOp]) -> None:
    failures = await _each(sidecar, store, ops, store.delete, "bulk_delete")
    if failures:
        raise _bulk_failure(store, failures,
                            f"failed deleting state in state store {store.name}: ",
                            (Err.STATE_BULK_DELETE, Err.STATE_BULK_DELETE_ETAG_MISMATCH,
                             Err.STATE_BULK_DELETE_ETAG_INVALID))


_TRANSACTION = "error while executing state transaction: "


def check_transactional(store: StateStore) -> None:
    if not isinstance(store, Transactional):
        raise DaprError(Err.STATE_TRANSACTIONS_NOT_SUPPORTED,
                        f"state store {store.name} doesn't support transactions")


def transaction_refused(exc: BadOption) -> DaprError:
    return DaprError(Err.STATE_TRANSACTION, _TRANSACTION + str(exc))


def operation_not_supported(kind: Any) -> DaprError:
    return DaprError(Err.STATE_OPERATION_NOT_SUPPORTED, f"operation type {kind} not supported")


def is_projection(meta: Mapping[str, str]) -> bool:
    """An upsert marked `outbox.projection: true`: what the outbox publishes for its key."""
    return str(meta.get("outbox.projection", "")).strip().lower() == "true"


async def run_transaction(sidecar: Sidecar, store: StateStore,
                          ops: list[SetOp | DeleteOp]) -> None:
    """All ops or none; callers have called check_transactional(store) first,
    before reading the request, as Dapr does. With a transactional outbox, the
    committed upserts are then published (a projection in place of its key's)."""
    if not ops:
        return
    outbox = store.outbox()
    saved = ops
    if outbox is not None:
        _check_outbox(sidecar, store, outbox)
        saved = [op for op in ops if not (isinstance(op, SetOp) and op.projection)]
    executor = cast(Transactional, store)
    try:
        with metrics.state_op(store.name, "transaction"):
            await outbound(sidecar, store).run(lambda: executor.transact(saved))
    except (EtagMismatch, EtagInvalid) as exc:
        raise DaprError(Err.STATE_TRANSACTION, f"{_TRANSACTION}possible etag mismatch for key "
                        f"{user_key(store, str(exc))}") from None
    except Exception as exc:
        raise DaprError(Err.STATE_TRANSACTION, _TRANSACTION + str(exc)) from None
    if outbox is not None:
        await _publish_changes(sidecar, store, outbox, ops)


def _check_outbox(sidecar: Sidecar, store: StateStore, outbox: tuple[str, str]) -> None:
    # Checked before the commit, so a missing pub/sub never leaves a change unannounced.
    if outbox[0] not in sidecar.pubsub.items:
        raise DaprError(Err.STATE_TRANSACTION, f"{_TRANSACTION}the outbox pub/sub {outbox[0]} "
                        f"of state store {store.name} (outboxPublishPubsub) is not loaded")


async def _publish_changes(sidecar: Sidecar, store: StateStore, outbox: tuple[str, str],
                           ops: list[SetOp | DeleteOp]) -> None:
    projections = {op.key: op for op in ops if isinstance(op, SetOp) and op.projection}
    pubsub, topic = outbox
    for op in ops:
        if not isinstance(op, SetOp) or op.projection:
            continue
        shown = projections.get(op.key, op)
        content_type = "application/octet-stream" if shown.is_binary else "application/json"
        try:
            await publishing.publish(sidecar, pubsub, topic, shown.value, content_type, {}, {})
        except DaprError as exc:
            raise DaprError(Err.STATE_TRANSACTION, f"{_TRANSACTION}the transaction was saved, "
                            f"but publishing {user_key(store, op.key)} to the outbox topic "
                            f"{topic} failed: {exc.message}") from None


def _parse_query(body: Any) -> Query:
    """The query's shape; the filter and sort are checked by the store."""
    if not isinstance(body, dict):
        raise ValueError("the query must be a JSON object")
    page = body.get("page") or {}
    if not isinstance(page, dict):
        raise ValueError("page must be an object with limit and token")
    limit, token = page.get("limit", 0), page.get("token")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"page limit must be a whole number of 0 or more, got {limit!r}")
    if token is not None and not isinstance(token, str):
        raise ValueError(f"page token must be a string, got {token!r}")
    return Query(filter=body.get("filter"), sort=body.get("sort") or [], limit=limit,
                 token=token or None)


async def run_query(sidecar: Sidecar, store: StateStore, raw: bytes) -> QueryResult:
    """The query (JSON text) run on the store; items carry the app's keys."""
    if not isinstance(store, Queryable):
        raise DaprError(Err.STATE_STORE_NOT_SUPPORTED, "state store does not support querying")
    failed = f"state store {store.name} query failed: "
    try:
        query = _parse_query(loads_keeping(raw.decode("utf-8"), field=None))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DaprError(Err.STATE_QUERY, f"{failed}failed to parse JSON query body: "
                        f"{exc}") from None
    try:
        with metrics.state_op(store.name, "query"):
            return await outbound(sidecar, store).run(
                lambda: store.query(query, store.key_prefix()))
    except Exception as exc:  # a QueryError names the bad part; others are store failures
        raise DaprError(Err.STATE_QUERY, failed + str(exc)) from None


# ---- HTTP ----

def _store(request: web.Request) -> StateStore:
    return find_store(request.app[SIDECAR], request.match_info["store"])


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return loads_keeping(raw.decode("utf-8"))
    except (UnicodeDecodeError, RawJSONError) as exc:
        raise malformed(f"failed deserializing HTTP body: {exc}") from None


def _options(options: Any) -> bool:
    """Validated options; True for first-write concurrency."""
    if options is None:
        return False
    return first_write(options.get("concurrency"), options.get("consistency"))


def _typed(value: Any, kind: type, what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise malformed(f"{what} must be {'an object' if kind is dict else 'a string'}")
    return value


def _metadata(meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    _typed(meta, dict, "metadata")
    if not all(isinstance(v, str) for v in meta.values()):
        raise malformed("metadata values must be strings")
    return meta


def _etag(value: Any) -> str | None:
    return _typed(value, str, "etag") or None


def _item_fields(item: Any, what: str) -> tuple[Any, dict[str, str]]:
    """The item's options and metadata, after the checks that make a 400."""
    if not isinstance(item, dict):
        raise malformed(f"each {what} must be an object with a key")
    return _typed(item.get("options"), dict, "options"), _metadata(item.get("metadata"))


def _set_op(store: StateStore, item: Any, query_meta: dict[str, str]) -> SetOp:
    options, meta = _item_fields(item, "state item")
    key, etag = full_key(store, item.get("key")), _etag(item.get("etag"))
    raw = item.get("value")
    text = raw.text if isinstance(raw, RawValue) else "null"
    return SetOp(key=key, value=text.encode("utf-8"), etag=etag,
                 first_write=_options(options), ttl=ttl_of({**meta, **query_meta}),
                 projection=is_projection(meta))


def _delete_op(store: StateStore, item: Any) -> DeleteOp:
    options, _ = _item_fields(item, "delete request")
    key, etag = full_key(store, item.get("key")), _etag(item.get("etag"))
    return DeleteOp(key=key, etag=etag, first_write=_options(options))


def _query_metadata(request: web.Request) -> dict[str, str]:
    meta: dict[str, str] = {}
    for name, value in request.query.items():
        if name.startswith("metadata."):
            meta.setdefault(name[len("metadata."):], value)  # Dapr keeps the first
    return meta


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
        expire = expire_time(item)
        if expire:
            parts.append(f'"metadata":{{"ttlExpireTime":{json.dumps(expire)}}}')
    return "{" + ",".join(parts) + "}"


async def save_state(request: web.Request) -> web.Response:
    store = _store(request)
    items = await _body(request)
    if not isinstance(items, list):
        raise malformed("the body must be a JSON array of state items")
    query_meta = _query_metadata(request)
    try:
        ops = parse_all(items, lambda item: _set_op(store, item, query_meta))
    except BadOption as exc:
        raise save_refused(store, exc) from None
    await save_items(request.app[SIDECAR], store, ops)
    return web.Response(status=204)


async def get_state(request: web.Request) -> web.Response:
    store = _store(request)
    item = await get_item(request.app[SIDECAR], store, request.match_info["key"])
    if item is None:
        return web.Response(status=204)
    headers = {"ETag": item.etag}
    expire = expire_time(item)
    if expire:
        headers["metadata.ttlExpireTime"] = expire
    content_type = "application/octet-stream" if item.is_binary else _JSON
    return web.Response(body=item.value, headers=headers, content_type=content_type)


def _bulk_keys(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise malformed("the body must be an object with keys: a list of strings")
    keys = body.get("keys")
    if keys is None:
        return []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise malformed("keys must be a list of strings")
    parallelism = body.get("parallelism")
    if parallelism is not None and (isinstance(parallelism, bool)
                                    or not isinstance(parallelism, int)):
        raise malformed("parallelism must be a number")
    _metadata(body.get("metadata"))
    return keys


async def bulk_get(request: web.Request) -> web.Response:
    store = _store(request)
    keys = _bulk_keys(await _body(request))
    found = await get_items(request.app[SIDECAR], store, keys)
    text = "[" + ",".join(_entry_json(key, item) for key, item in found)
    return web.Response(text=text + "]", content_type=_JSON)


async def delete_state(request: web.Request) -> web.Response:
    store = _store(request)
    key = request.match_info["key"]
    stored = full_key(store, key)
    try:
        first = first_write(request.query.get("concurrency"), request.query.get("consistency"))
    except BadOption as exc:
        raise DaprError(Err.STATE_DELETE, f"failed deleting state with key {key}: {exc}") from None
    op = DeleteOp(stored, _etag(request.headers.get("If-Match")), first)
    await delete_item(request.app[SIDECAR], store, key, op)
    return web.Response(status=204)


def _transaction_op(store: StateStore, entry: Any, query_meta: dict[str, str]) -> SetOp | DeleteOp:
    if not isinstance(entry, dict):
        raise malformed("each operation must be an object with operation and request")
    kind, req = entry.get("operation"), entry.get("request")
    if kind == "upsert":
        return _set_op(store, req, query_meta)
    if kind == "delete":
        return _delete_op(store, req)
    raise operation_not_supported(kind)


def _operations(body: Any) -> list[Any]:
    operations = body.get("operations") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(operations, list | None):
        raise malformed("the body must be an object with operations: a list")
    _metadata(body.get("metadata"))
    return operations or []


async def transaction(request: web.Request) -> web.Response:
    store = _store(request)
    check_transactional(store)
    operations = _operations(await _body(request))
    query_meta = _query_metadata(request)
    try:
        ops = parse_all(operations, lambda entry: _transaction_op(store, entry, query_meta))
    except BadOption as exc:
        raise transaction_refused(exc) from None
    await run_transaction(request.app[SIDECAR], store, ops)
    return web.Response(status=204)


async def query_state(request: web.Request) -> web.Response:
    store = _store(request)
    result = await run_query(request.app[SIDECAR], store, await request.read())
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
