"""Bulk get and transactions: order and shape of bulk results, and
transactions that apply all of their operations or none."""

from __future__ import annotations

from tests.state.helpers import assert_error, delete, etag_of, get, new_key, save, transact, upsert


def bulk(http, store, keys, **extra):
    return http.post(f"/v1.0/state/{store}/bulk", json={"keys": keys, **extra})


def test_bulk_get_keeps_request_order_and_marks_missing_keys(http, store):
    a, b, missing = new_key("a"), new_key("b"), new_key("missing")
    save(http, store, {"key": a, "value": {"n": 1}}, {"key": b, "value": "two"})
    r = bulk(http, store, [b, missing, a])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    found = r.json()
    assert [entry["key"] for entry in found] == [b, missing, a]
    assert found[1] == {"key": missing}
    assert found[0]["data"] == "two" and found[2]["data"] == {"n": 1}
    assert found[0]["etag"] == etag_of(http, store, b)
    assert "metadata" not in found[0]


def test_bulk_get_reports_ttl_expire_time(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1, "metadata": {"ttlInSeconds": "100"}})
    [entry] = bulk(http, store, [key], parallelism=2).json()
    expire = entry["metadata"]["ttlExpireTime"]
    assert expire == get(http, store, key).headers["metadata.ttlExpireTime"]


def test_bulk_get_with_no_keys_is_an_empty_list(http, store):
    assert bulk(http, store, []).json() == []
    assert http.post(f"/v1.0/state/{store}/bulk", json={}).json() == []


def test_bulk_get_repeated_key(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 7})
    assert [e["data"] for e in bulk(http, store, [key, key]).json()] == [7, 7]


def test_transaction_applies_upserts_and_deletes(http, store):
    keep, gone = new_key(), new_key()
    save(http, store, {"key": gone, "value": "x"})
    r = transact(http, store, upsert(keep, {"v": 1}), delete(gone))
    assert r.status_code == 204
    assert get(http, store, keep).json() == {"v": 1}
    assert get(http, store, gone).status_code == 204


def test_transaction_values_round_trip_byte_exact(http, store):
    key = new_key()
    raw = '{ "z":1 ,"a": 1.0 }'
    body = ('{"operations":[{"operation":"upsert","request":{"key":"' + key
            + '","value":' + raw + "}}]}")
    r = http.post(f"/v1.0/state/{store}/transaction", content=body)
    assert r.status_code == 204
    assert get(http, store, key).text == raw


def test_one_bad_etag_fails_the_whole_transaction(http, store):
    existing, fresh, doomed = new_key(), new_key(), new_key()
    save(http, store, {"key": existing, "value": "old"}, {"key": doomed, "value": "here"})
    r = transact(http, store,
                 upsert(fresh, "new"),
                 delete(doomed),
                 upsert(existing, "changed", etag="wrong-etag"))
    assert_error(r, 500, "ERR_STATE_TRANSACTION", "etag")
    assert get(http, store, fresh).status_code == 204
    assert get(http, store, doomed).json() == "here"
    assert get(http, store, existing).json() == "old"


def test_transaction_with_right_etags_and_first_write(http, store):
    key, other = new_key(), new_key()
    save(http, store, {"key": key, "value": 1})
    r = transact(http, store,
                 upsert(key, 2, etag=etag_of(http, store, key)),
                 upsert(other, 1, options={"concurrency": "first-write"}))
    assert r.status_code == 204
    assert [get(http, store, k).json() for k in (key, other)] == [2, 1]


def test_transaction_sees_its_own_earlier_operations(http, store):
    key = new_key()
    r = transact(http, store, upsert(key, 1), delete(key), upsert(key, 3))
    assert r.status_code == 204
    assert get(http, store, key).json() == 3


def test_first_write_conflict_fails_the_transaction(http, store):
    key, fresh = new_key(), new_key()
    save(http, store, {"key": key, "value": "mine"})
    r = transact(http, store, upsert(fresh, 1),
                 upsert(key, "theirs", options={"concurrency": "first-write"}))
    assert_error(r, 500, "ERR_STATE_TRANSACTION")
    assert get(http, store, fresh).status_code == 204


def test_unknown_operation_is_400_and_nothing_applies(http, store):
    key = new_key()
    r = transact(http, store, upsert(key, 1), {"operation": "merge", "request": {"key": key}})
    assert_error(r, 400, "ERR_NOT_SUPPORTED_STATE_OPERATION", "merge")
    assert get(http, store, key).status_code == 204


def test_empty_or_missing_operations_is_204(http, store):
    assert transact(http, store).status_code == 204
    assert http.post(f"/v1.0/state/{store}/transaction", json={}).status_code == 204


def test_transaction_ttl_from_query_metadata(http, store):
    key = new_key()
    r = http.post(f"/v1.0/state/{store}/transaction", params={"metadata.ttlInSeconds": "100"},
                  json={"operations": [upsert(key, 1)]})
    assert r.status_code == 204
    assert "metadata.ttlExpireTime" in get(http, store, key).headers


def test_transaction_malformed_request(http, store):
    for body in ('{"operations": 3}', "[]", '{"operations":[{"operation":"upsert"}]}',
                 '{"operations":[{"operation":"upsert","request":{"value":1}}]}',
                 '{"operations":[],"metadata":{"ttlInSeconds":1}}'):
        r = http.post(f"/v1.0/state/{store}/transaction", content=body)
        assert_error(r, 400, "ERR_MALFORMED_REQUEST")
