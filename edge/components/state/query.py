"""The state query language (Dapr's alpha query API) compiled to SQLite SQL
over JSON values: filters EQ, NEQ, GT, GTE, LT, LTE, IN, AND, OR; sort;
paging is left to the store."""

from __future__ import annotations

import json
from typing import Any

from edge.components.state.base import Query

_COMPARE = {"EQ": "=", "NEQ": "!=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}


class QueryError(ValueError):
    """A query the store cannot run; the message says which part is wrong."""


def _path(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise QueryError(f"filter and sort keys must be non-empty strings, got {key!r}")
    return "$" + "".join("." + json.dumps(part) for part in key.split("."))


def _value_expr(key: str) -> tuple[str, list[Any]]:
    # json_valid guards rows whose text is not JSON (they simply do not match).
    return "(CASE WHEN json_valid(value) THEN json_extract(value, ?) END)", [_path(key)]


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise QueryError(f"{where}: only strings, numbers and booleans can be compared")


def _single(op: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise QueryError(f"{op} takes an object with exactly one key, got {json.dumps(body)}")
    return body


def compile_filter(node: Any) -> tuple[str, list[Any]]:
    if node in (None, {}):
        return "1", []
    if not isinstance(node, dict) or len(node) != 1:
        raise QueryError(f"a filter is an object with one operation, got {json.dumps(node)}")
    op, body = next(iter(node.items()))
    if op in ("AND", "OR"):
        if not isinstance(body, list) or len(body) < 2:
            raise QueryError(f"{op} takes a list of at least two filters")
        parts = [compile_filter(child) for child in body]
        sql = f" {op} ".join(f"({part})" for part, _ in parts)
        return sql, [arg for _, args in parts for arg in args]
    if op in _COMPARE:
        key, value = next(iter(_single(op, body).items()))
        expr, args = _value_expr(key)
        if value is None:
            return f"{expr} IS {'NOT ' if op == 'NEQ' else ''}NULL", args
        return f"{expr} {_COMPARE[op]} ?", [*args, _scalar(value, op)]
    if op == "IN":
        key, values = next(iter(_single(op, body).items()))
        if not isinstance(values, list) or not values:
            raise QueryError("IN takes a non-empty list of values")
        expr, args = _value_expr(key)
        marks = ", ".join("?" * len(values))
        return f"{expr} IN ({marks})", [*args, *(_scalar(v, op) for v in values)]
    raise QueryError(f"unknown filter operation {op!r} (supported: AND, OR, IN, "
                     + ", ".join(_COMPARE) + ")")


def compile_query(query: Query) -> tuple[str, list[Any], str]:
    """WHERE text, its parameters, and ORDER BY text (paths inlined as literals)."""
    where, params = compile_filter(query.filter)
    order = []
    for entry in query.sort:
        if not isinstance(entry, dict) or "key" not in entry:
            raise QueryError("each sort entry needs a key")
        direction = str(entry.get("order", "ASC")).upper()
        if direction not in ("ASC", "DESC"):
            raise QueryError(f"sort order must be ASC or DESC, got {entry.get('order')!r}")
        # The path is quoted by json.dumps and embedded as an SQL string literal.
        literal = "'" + _path(entry["key"]).replace("'", "''") + "'"
        order.append(f"(CASE WHEN json_valid(value) THEN json_extract(value, {literal}) END)"
                     f" {direction}")
    order.append("key ASC")
    return where, params, ", ".join(order)
