"""Unit tests for edge.rawjson: request bodies decoded like json.loads,
except that `value` members keep the exact text the client sent."""

from __future__ import annotations

import json

import pytest

from edge.rawjson import RawJSONError, RawValue, loads_keeping


def test_value_members_keep_their_exact_text():
    text = '[ {"key" : "a", "value" :{ "z":1 ,\n "a" : [1.0, 1e2] } , "etag":"e"} ]'
    [item] = loads_keeping(text)
    assert item == {"key": "a", "value": RawValue('{ "z":1 ,\n "a" : [1.0, 1e2] }'), "etag": "e"}


@pytest.mark.parametrize("raw", ['"s\\u00e9 ✓"', "-0.0", "1E+400", "9" * 5000, "null", "[]",
                                 '{"value": {"value": 1}}'])
def test_any_json_value_is_captured(raw):
    assert loads_keeping('{"value":' + raw + "}") == {"value": RawValue(raw)}


def test_other_members_decode_like_json_loads():
    text = '{"keys": ["a", "b"], "n": 1.5, "t": true, "x": null, "o": {"p": [{}]}}'
    assert loads_keeping(text) == json.loads(text)


def test_field_name_can_be_chosen():
    assert loads_keeping('{"data": 1.0, "value": 2}', field="data") == {
        "data": RawValue("1.0"), "value": 2}


def test_values_nested_in_other_members_are_captured_too():
    body = loads_keeping('{"operations":[{"request":{"key":"k","value":1.50}}]}')
    assert body["operations"][0]["request"]["value"] == RawValue("1.50")


def test_huge_integers_outside_values_do_not_crash():
    assert loads_keeping('{"n": ' + "9" * 5000 + "}")["n"] > 10**100


@pytest.mark.parametrize("text", [
    "", " ", "{", "[1,]", '{"a":1,}', '{"a" 1}', '{a:1}', "[1] 2", "{'a':1}",
    '{"value":}', '{"value":1', '{"value":NaN}', '{"value":[Infinity]}', '{"n":-Infinity}',
    '{"value":"a\x01"}', '{"value":"\\x"}', '{"value":01}', "\ufeff[]",
])
def test_malformed_input_raises(text):
    with pytest.raises(RawJSONError):
        loads_keeping(text)


def test_deep_nesting_of_the_request_is_refused():
    with pytest.raises(RawJSONError, match="nested too deeply"):
        loads_keeping("[" * 40 + "]" * 40)


def test_deep_nesting_of_a_value_is_refused():
    with pytest.raises(RawJSONError, match="nested too deeply"):
        loads_keeping('{"value":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_reasonable_nesting_is_fine():
    assert loads_keeping("[" * 20 + "]" * 20) == json.loads("[" * 20 + "]" * 20)
    deep = "[" * 200 + "]" * 200
    assert loads_keeping('{"value":' + deep + "}") == {"value": RawValue(deep)}
