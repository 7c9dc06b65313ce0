"""The state query language (Dapr's alpha query API) compiled to SQLite SQL
over JSON values: filters EQ, NEQ, GT, GTE, LT, LTE, IN, AND, OR; sort;
paging is left to the store.

Semantics, where Dapr leaves them open:
* keys are dotted paths into the value (`person.org.dept`);
* a comparison only matches values of the same JSON type as its operand:
  numbers with numbers, strings with strings (SQLite alone would rank every
  string above every number, so `GT 30` would match "old");
* `EQ null` matches an explicit null, not a missing field; `NEQ x` matches
  fields that are present and differ from x (null included);
* values that are not JSON never match."""

from __future__ import annotations

import json
from typing import Any

from edge.components.state.base import Query

_ORDERING = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}
_COMPARE = ("EQ", "NEQ", *_ORDERING)
# Rows whose text is not JSON read as NULL, so json_* functions never fail.
_DOC = "(CASE WHEN json_valid(value) THEN value END)"
# JSON types an operand may match, keyed by the operand's Python type.
_NUMBER, _TEXT, _BOOL = "('integer', 'real')", "('text')", "('true', 'false')"

Sql = tuple[str, list[Any]]


class QueryError(ValueError):
    """A query the store cannot run; the message says which part is wrong."""


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _paths(key: Any) -> list[str]:
    """SQLite JSON paths for a dotted key. SQLite matches a label against the
    key's text as written in the document, escapes and all, so a key with
    non-ASCII characters gets two paths: raw UTF-8 (as JavaScript and Go
    write it) and \\u-escaped (as Python's json.dumps writes it)."""
    if not isinstance(key, str) or not key:
        raise QueryError(f"keys must be non-empty dotted paths, got {_dump(key)}")
    parts = key.split(".")
    if any(not part or '"' in part for part in parts):
        raise QueryError(f"key {_dump(key)} has an empty part or a '\"'")
    raw = "$" + "".join(f'."{part}"' for part in parts)
    escaped = "$" + "".join("." + json.dumps(part) for part in parts)
    return [raw] if raw == escaped else [raw, escaped]


def _call(function: str, paths: list[str], inline: bool = False) -> Sql:
    """function(value, path) for the first path that finds something.
    Inline paths are SQL literals: they cannot contain '"', and "'" is doubled."""
    marks = ["'" + path.replace("'", "''") + "'" if inline else "?" for path in paths]
    calls = [f"{function}({_DOC}, {mark})" for mark in marks]
    sql = calls[0] if len(calls) == 1 else "COALESCE(" + ", ".join(calls) + ")"
    return sql, [] if inline else list(paths)


def _typed(paths: list[str], value: Any, op: str, sql_op: str) -> Sql:
    """value's JSON type matches and `extracted <sql_op> value` holds."""
    type_sql, type_args = _call("json_type", paths)
    value_sql, value_args = _call("json_extract", paths)
    # JSON true/false read back from json_extract as 1/0.
    param = int(value) if isinstance(value, bool) else value
    return (f"({type_sql} IN {_types(value, op)} AND {value_sql} {sql_op} ?)",
            [*type_args, *value_args, param])


def _types(value: Any, op: str) -> str:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, (int, float)):
        return _NUMBER
    if isinstance(value, str):
        return _TEXT
    raise QueryError(f"{op}: only strings, numbers, booleans and null can be compared, "
                     f"got {_dump(value)}")


def _equals(paths: list[str], value: Any, op: str) -> Sql:
    if value is None:
        type_sql, args = _call("json_type", paths)
        return f"{type_sql} = 'null'", args
    return _typed(paths, value, op, "=")


def _compare(op: str, body: Any) -> Sql:
    key, value = _single(op, body)
    paths = _paths(key)
    if op == "EQ":
        return _equals(paths, value, op)
    if op == "NEQ":
        type_sql, type_args = _call("json_type", paths)
        equal, args = _equals(paths, value, op)
        return f"({type_sql} IS NOT NULL AND NOT {equal})", [*type_args, *args]
    if value is None:
        raise QueryError(f"{op}: null cannot be ordered (key {_dump(key)})")
    return _typed(paths, value, op, _ORDERING[op])


def _in(body: Any) -> Sql:
    key, values = _single("IN", body)
    if not isinstance(values, list) or not values:
        raise QueryError(f"IN takes a non-empty list of values, got {_dump(values)}")
    paths = _paths(key)
    parts = [_equals(paths, value, "IN") for value in values]
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [a for _, args in parts for a in args]


def _single(op: str, body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise QueryError(f"{op} takes an object with exactly one key, got {_dump(body)}")
    return next(iter(body.items()))


def _combine(op: str, body: Any) -> Sql:
    if not isinstance(body, list) or len(body) < 2:
        raise QueryError(f"{op} takes a list of at least two filters, got {_dump(body)}")
    parts = [compile_filter(child) for child in body]
    return (f" {op} ".join(f"({sql})" for sql, _ in parts),
            [arg for _, args in parts for arg in args])


def compile_filter(node: Any) -> Sql:
    if node is None or node == {}:
        return "1", []
    if not isinstance(node, dict) or len(node) != 1:
        raise QueryError(f"a filter is an object with one operation, got {_dump(node)}")
    op, body = next(iter(node.items()))
    if op in ("AND", "OR"):
        return _combine(op, body)
    if op in _COMPARE:
        return _compare(op, body)
    if op == "IN":
        return _in(body)
    raise QueryError(f"unknown filter operation {_dump(op)} (supported: AND, OR, IN, "
                     + ", ".join(_COMPARE) + ")")


def _order(entry: Any) -> str:
    if not isinstance(entry, dict) or "key" not in entry:
        raise QueryError(f"sort entry {_dump(entry)} needs a key")
    direction = entry.get("order", "ASC")
    if not isinstance(direction, str) or direction.upper() not in ("ASC", "DESC"):
        raise QueryError(f"sort order must be ASC or DESC, got {_dump(direction)}")
    sql, _ = _call("json_extract", _paths(entry["key"]), inline=True)
    return f"{sql} {direction.upper()}"


def compile_query(query: Query) -> tuple[str, list[Any], str]:
    """WHERE text, its parameters, and ORDER BY text (paths inlined as literals)."""
    where, params = compile_filter(query.filter)
    if not isinstance(query.sort, list):
        raise QueryError(f"sort must be a list of {{key, order}}, got {_dump(query.sort)}")
    # The key breaks ties, so pages are stable from one request to the next.
    order = [*(_order(entry) for entry in query.sort), "key ASC"]
    return where, params, ", ".join(order)
