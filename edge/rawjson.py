"""JSON request bodies whose `value` fields are kept as the client wrote them.

State values must round-trip byte for byte, so the API cannot decode a save
request and encode the values again. This walks the request's structure and
hands each `value` member back as its original text; every JSON token is
still decoded by the standard library's decoder, made strict: NaN and
Infinity are refused (they are not JSON, and a stored value must be), and
integers of any length are accepted without tripping Python's limit on
int conversion."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Any

_SPACE = re.compile(r"[ \t\n\r]*")
# Depth of the request's own structure; values are bounded by the decoder's
# recursion limit instead (about a thousand levels).
_MAX_DEPTH = 32
# Python refuses int() on more than 4300 digits by default.
_MAX_INT_DIGITS = 4000


@dataclass(frozen=True, slots=True)
class RawValue:
    text: str


class RawJSONError(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise RawJSONError(f"{name} is not valid JSON")


def _int(text: str) -> int | float:
    # Longer numbers are valid JSON; only values (kept as text) can hold
    # them, so a float that is close enough serves everywhere else.
    return int(text) if len(text) < _MAX_INT_DIGITS else float(text)


_decoder = json.JSONDecoder(parse_constant=_no_constant, parse_int=_int)


def loads_keeping(text: str, field: str | None = "value") -> Any:
    """Like json.loads, but every member named `field` is a RawValue.
    With field None it is a strict json.loads with a nesting limit."""
    end, result = _parse(text, _skip(text, 0), field, 0)
    if _skip(text, end) != len(text):
        raise RawJSONError(f"extra data after the JSON document at offset {end}")
    return result


def check(text: str) -> None:
    """Raise RawJSONError unless text is one JSON value, by the rules a stored
    value is held to (a value saved over gRPC with contentType application/json)."""
    end, _ = _raw(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise RawJSONError(f"extra data after the JSON document at offset {end}")


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    assert match is not None
    return match.end()


def _expect(text: str, pos: int, what: str) -> None:
    if text[pos:pos + 1] != what:
        raise RawJSONError(f"expected {what!r} at offset {pos}")


def _decode(text: str, pos: int) -> tuple[Any, int]:
    """One complete JSON value at pos, decoded, and where it ends."""
    try:
        return _decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise RawJSONError(str(exc)) from None
    except RecursionError:
        raise RawJSONError("JSON nested too deeply") from None


def _parse(text: str, pos: int, field: str | None, depth: int) -> tuple[int, Any]:
    if depth > _MAX_DEPTH:
        raise RawJSONError("JSON nested too deeply")
    head = text[pos:pos + 1]
    if head == "{":
        return _object(text, pos, field, depth)
    if head == "[":
        return _array(text, pos, field, depth)
    value, end = _decode(text, pos)
    return end, value


def _raw(text: str, pos: int) -> tuple[int, RawValue]:
    _, end = _decode(text, pos)
    return end, RawValue(text[pos:end])


def _object(text: str, pos: int, field: str | None, depth: int) -> tuple[int, dict[str, Any]]:
    result: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text[pos:pos + 1] == "}":
        return pos + 1, result
    while True:
        _expect(text, pos, '"')
        try:
            key, pos = scanstring(text, pos + 1)
        except json.JSONDecodeError as exc:
            raise RawJSONError(str(exc)) from None
        pos = _skip(text, pos)
        _expect(text, pos, ":")
        pos = _skip(text, pos + 1)
        if key == field:
            pos, result[key] = _raw(text, pos)
        else:
            pos, result[key] = _parse(text, pos, field, depth + 1)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip(text, pos + 1)
            continue
        _expect(text, pos, "}")
        return pos + 1, result


def _array(text: str, pos: int, field: str | None, depth: int) -> tuple[int, list[Any]]:
    result: list[Any] = []
    pos = _skip(text, pos + 1)
    if text[pos:pos + 1] == "]":
        return pos + 1, result
    while True:
        pos, item = _parse(text, pos, field, depth + 1)
        result.append(item)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip(text, pos + 1)
            continue
        _expect(text, pos, "]")
        return pos + 1, result
