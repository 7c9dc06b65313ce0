"""Save, get and delete through the Dapr HTTP API: values come back byte for
byte as the client wrote them (a deliberate difference from Dapr, which
re-encodes them), with an ETag and a JSON content type."""

from __future__ import annotations

import json

import pytest

from tests.state.helpers import get, new_key, save, save_raw

RAW_VALUES = {
    "object-odd-spacing-and-order": '{ "zeta" : 1,\n\t"alpha":[1 , 2 ],"m":{} }',
    "string": '"DeathStar"',
    "float-with-zero-fraction": "1.0",
    "exponent": "1E+2",
    "negative-zero": "-0.0",
    "big-int": "123456789012345678901234567890123456789",
    "unicode-raw": '"héllo ✓ 𝄞 日本"',
    "unicode-escaped": '"h\\u00e9llo \\ud834\\udd1e"',
    "html-chars": '"<a href=\\"x\\">&amp;</a>"',
    "nested": '{"a":{"b":{"c":[{"d":null,"e":[true,false]}]}}}',
    "empty-string": '""',
    "true": "true",
    "null": "null",
    "array": '[ 1, "two", {"three": 3.000} ]',
}


@pytest.mark.parametrize("raw", RAW_VALUES.values(), ids=RAW_VALUES.keys())
def test_value_round_trips_byte_exact(http, store, raw):
    key = new_key()
    body = '[ {"key": "' + key + '", "value" :  ' + raw + " } ]"
    assert save_raw(http, store, body.encode()).status_code == 204
    r = get(http, store, key)
    assert r.status_code == 200
    assert r.content == raw.encode()
    assert r.headers["content-type"] == "application/json"
    assert r.headers["etag"]


def test_bulk_and_get_agree_byte_exact(http, store):
    key = new_key()
    raw = '{"b" : 2, "a" : 1.0}'
    assert save_raw(http, store, f'[{{"key":"{key}","value":{raw}}}]').status_code == 204
    r = http.post(f"/v1.0/state/{store}/bulk", json={"keys": [key]})
    assert r.status_code == 200
    assert f'"data":{raw}' in r.text
    assert r.json()[0]["data"] == {"b": 2, "a": 1.0}


def test_missing_key_is_204_with_empty_body(http, store):
    r = get(http, store, new_key("missing"))
    assert r.status_code == 204
    assert r.content == b""
    assert "etag" not in r.headers


def test_missing_value_is_stored_as_null(http, store):
    key = new_key()
    assert save(http, store, {"key": key}).status_code == 204
    assert get(http, store, key).content == b"null"


def test_put_saves_like_post_and_many_items_at_once(http, store):
    keys = [new_key() for _ in range(3)]
    r = http.put(f"/v1.0/state/{store}", json=[{"key": k, "value": i} for i, k in enumerate(keys)])
    assert r.status_code == 204
    assert [get(http, store, k).json() for k in keys] == [0, 1, 2]


def test_empty_array_is_a_no_op(http, store):
    assert save_raw(http, store, "[]").status_code == 204


def test_each_write_gets_a_new_etag(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    first = get(http, store, key).headers["etag"]
    save(http, store, {"key": key, "value": 1})
    second = get(http, store, key).headers["etag"]
    assert first and second and first != second


def test_keys_with_spaces_unicode_and_escaped_slashes(http, store):
    for key in (new_key("with space"), new_key("ключ"), new_key("a/b")):
        assert save(http, store, {"key": key, "value": key}).status_code == 204
        r = http.get(f"/v1.0/state/{store}/" + key.replace("/", "%2F"))
        assert r.status_code == 200, key
        assert r.json() == key


def test_delete_then_get_is_204(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": {"x": 1}})
    assert http.delete(f"/v1.0/state/{store}/{key}").status_code == 204
    assert get(http, store, key).status_code == 204


def test_delete_missing_key_without_etag_is_204(http, store):
    assert http.delete(f"/v1.0/state/{store}/{new_key('never')}").status_code == 204


def test_last_write_wins_without_etag(http, store):
    key = new_key()
    for value in ("one", "two", "three"):
        assert save(http, store, {"key": key, "value": value}).status_code == 204
    assert get(http, store, key).json() == "three"


def test_large_value_round_trips(http, store):
    key = new_key()
    value = {"blob": "x" * 500_000, "list": list(range(2000))}
    text = json.dumps(value)
    assert save_raw(http, store, f'[{{"key":"{key}","value":{text}}}]').status_code == 204
    assert get(http, store, key).text == text
