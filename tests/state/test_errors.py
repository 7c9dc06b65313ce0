"""What a client sees for bad requests: Dapr's status codes and error codes,
and a sidecar that stays healthy whatever it was sent."""

from __future__ import annotations

import pytest

from tests.state.helpers import assert_error, get, new_key, save, save_raw


@pytest.fixture(autouse=True)
def still_healthy(http):
    yield
    assert http.get("/v1.0/healthz/outbound").status_code == 204


def test_unknown_store_on_every_route(http):
    requests = [
        ("GET", "/v1.0/state/nope/k", None),
        ("POST", "/v1.0/state/nope", "[]"),
        ("DELETE", "/v1.0/state/nope/k", None),
        ("POST", "/v1.0/state/nope/bulk", '{"keys":[]}'),
        ("POST", "/v1.0/state/nope/transaction", '{"operations":[]}'),
        ("POST", "/v1.0-alpha1/state/nope/query", "{}"),
    ]
    for method, path, body in requests:
        r = http.request(method, path, content=body)
        assert_error(r, 400, "ERR_STATE_STORE_NOT_FOUND", "state store nope is not found")


def test_store_is_looked_up_before_the_body_is_parsed(http):
    r = save_raw(http, "nope", "{not json")
    assert_error(r, 400, "ERR_STATE_STORE_NOT_FOUND")


def test_no_state_stores_configured(spawn):
    sidecar = spawn.sidecar("bare")
    with sidecar.client() as client:
        for method, path in (("GET", "/v1.0/state/statestore/k"),
                             ("POST", "/v1.0/state/statestore"),
                             ("POST", "/v1.0/state/statestore/transaction")):
            r = client.request(method, path, content="[]")
            assert_error(r, 500, "ERR_STATE_STORE_NOT_CONFIGURED",
                         "state store statestore is not configured")


MALFORMED_SAVES = {
    "syntax-error": '[{"key":"k","value":1',
    "trailing-garbage": '[{"key":"k","value":1}] x',
    "empty-body": "",
    "object-not-array": '{"key":"k","value":1}',
    "string-not-array": '"k"',
    "item-not-object": '["k"]',
    "missing-key": '[{"value":1}]',
    "empty-key": '[{"key":"","value":1}]',
    "key-number": '[{"key":5,"value":1}]',
    "etag-number": '[{"key":"k","value":1,"etag":123}]',
    "metadata-not-object": '[{"key":"k","value":1,"metadata":"ttl"}]',
    "metadata-value-number": '[{"key":"k","value":1,"metadata":{"ttlInSeconds":5}}]',
    "key-lone-surrogate": '[{"key":"\\ud800","value":1}]',
    "options-not-object": '[{"key":"k","value":1,"options":"first-write"}]',
    "nan-value": '[{"key":"k","value":NaN}]',
    "infinity-value": '[{"key":"k","value":-Infinity}]',
    "single-quotes": "[{'key':'k','value':1}]",
    "control-char-in-string": '[{"key":"k","value":"a\x01b"}]',
    "trailing-comma": '[{"key":"k","value":1,}]',
    "deeply-nested-value": '[{"key":"k","value":' + "[" * 100_000 + "]" * 100_000 + "}]",
    "deeply-nested-request": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("body", MALFORMED_SAVES.values(), ids=MALFORMED_SAVES.keys())
def test_malformed_save_is_400(http, store, body):
    assert_error(save_raw(http, store, body), 400, "ERR_MALFORMED_REQUEST")


def test_invalid_utf8_is_400(http, store):
    r = save_raw(http, store, b'[{"key":"k","value":"\xff"}]')
    assert_error(r, 400, "ERR_MALFORMED_REQUEST")


def test_huge_integers_are_valid_json(http, store):
    key = new_key()
    digits = "9" * 5000
    body = f'[{{"key":"{key}","value":{digits},"options":{{"ignored":{digits}}}}}]'
    assert save_raw(http, store, body).status_code == 204
    assert get(http, store, key).text == digits


@pytest.mark.parametrize("options", [{"concurrency": "sometimes"}, {"consistency": "maybe"}])
def test_invalid_options_are_500(http, store, options):
    key = new_key()
    r = save(http, store, {"key": key, "value": 1, "options": options})
    assert_error(r, 500, "ERR_STATE_SAVE", "unrecognized")
    assert get(http, store, key).status_code == 204


def test_malformed_item_wins_over_a_bad_option_in_another(http, store):
    r = save(http, store, {"key": new_key(), "value": 1, "options": {"concurrency": "x"}},
             {"value": 2})
    assert_error(r, 400, "ERR_MALFORMED_REQUEST", "key")


def test_invalid_delete_concurrency_is_500(http, store):
    r = http.delete(f"/v1.0/state/{store}/{new_key()}", params={"concurrency": "sometimes"})
    assert_error(r, 500, "ERR_STATE_DELETE", "unrecognized concurrency model")


def test_invalid_transaction_option_is_500(http, store):
    body = {"operations": [{"operation": "upsert", "request": {
        "key": new_key(), "value": 1, "options": {"consistency": "never"}}}]}
    r = http.post(f"/v1.0/state/{store}/transaction", json=body)
    assert_error(r, 500, "ERR_STATE_TRANSACTION", "unrecognized consistency model")


def test_key_with_double_pipe_is_400_everywhere(http, store):
    bad = "a||b"
    requests = [
        ("GET", f"/v1.0/state/{store}/{bad}", None),
        ("DELETE", f"/v1.0/state/{store}/{bad}", None),
        ("POST", f"/v1.0/state/{store}", [{"key": bad, "value": 1}]),
        ("POST", f"/v1.0/state/{store}/bulk", {"keys": ["ok", bad]}),
        ("POST", f"/v1.0/state/{store}/transaction",
         {"operations": [{"operation": "delete", "request": {"key": bad}}]}),
    ]
    for method, path, body in requests:
        r = http.request(method, path, json=body)
        assert_error(r, 400, "ERR_MALFORMED_REQUEST",
                     "input key/keyPrefix 'a||b' can't contain '||'")


def test_malformed_bulk_requests_are_400(http, store):
    for body in ("[", "[]", '{"keys":"k"}', '{"keys":[1]}', '{"keys":[],"metadata":[]}',
                 '{"keys":[],"parallelism":"2"}'):
        r = http.post(f"/v1.0/state/{store}/bulk", content=body)
        assert_error(r, 400, "ERR_MALFORMED_REQUEST")


def test_body_over_the_limit_is_413(http, store):
    body = b'[{"key":"k","value":"' + b"x" * (5 * 1024 * 1024) + b'"}]'
    r = save_raw(http, store, body)
    assert r.status_code == 413
    assert r.json()["errorCode"] == "ERR_BODY_TOO_LARGE"
