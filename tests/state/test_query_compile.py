"""Unit tests for edge.components.state.query: queries compile to SQL that
SQLite runs, and every compile error names the part that is wrong."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from edge.components.state.base import Query
from edge.components.state.query import QueryError, compile_filter, compile_query

ROWS = {
    "a": {"n": 1, "s": "x", "o": {"p": True}},
    "b": {"n": 2.5, "s": "y", "o": {"p": False}},
    "c": {"n": "3", "s": None},
    "d": "not an object",
}


def matching(query: Query) -> list[str]:
    where, params, order = compile_query(query)
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE t (key TEXT PRIMARY KEY, value)")
        db.executemany("INSERT INTO t VALUES (?, ?)",
                       [(k, json.dumps(v)) for k, v in ROWS.items()] + [("e", "{bad")])
        rows = db.execute(f"SELECT key FROM t WHERE {where} ORDER BY {order}", params)
        return [row[0] for row in rows]


def test_empty_filter_matches_everything():
    assert compile_filter({}) == ("1", [])
    assert compile_filter(None) == ("1", [])


@pytest.mark.parametrize(("node", "expected"), [
    ({"EQ": {"s": "x"}}, ["a"]),
    ({"EQ": {"o.p": True}}, ["a"]),
    ({"EQ": {"s": None}}, ["c"]),
    ({"NEQ": {"s": "x"}}, ["b", "c"]),
    ({"NEQ": {"s": None}}, ["a", "b"]),
    ({"NEQ": {"n": 1}}, ["b", "c"]),
    ({"GT": {"n": 1}}, ["b"]),
    ({"GTE": {"n": 1}}, ["a", "b"]),
    ({"LT": {"n": 3}}, ["a", "b"]),
    ({"LTE": {"s": "x"}}, ["a"]),
    ({"IN": {"s": ["y", "z"]}}, ["b"]),
    ({"IN": {"n": [1, "3", None]}}, ["a", "c"]),
    ({"IN": {"s": [None, "x"]}}, ["a", "c"]),
    ({"AND": [{"GT": {"n": 0}}, {"EQ": {"s": "y"}}]}, ["b"]),
    ({"OR": [{"EQ": {"n": "3"}}, {"EQ": {"s": "x"}}]}, ["a", "c"]),
])
def test_filters_run_in_sqlite(node: dict[str, Any], expected: list[str]):
    assert matching(Query(filter=node)) == expected


def test_comparisons_do_not_mix_numbers_and_strings():
    assert matching(Query(filter={"GT": {"n": 0}})) == ["a", "b"]
    assert matching(Query(filter={"LT": {"n": "9"}})) == ["c"]


def test_eq_null_is_not_a_missing_field():
    assert matching(Query(filter={"EQ": {"missing": None}})) == []


def test_booleans_match_only_booleans():
    assert matching(Query(filter={"EQ": {"n": True}})) == []
    assert matching(Query(filter={"IN": {"o.p": [False]}})) == ["b"]


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "raw-utf8"])
def test_non_ascii_paths_match_however_the_document_is_written(ascii_only: bool):
    value = json.dumps({"città": {"nome": "Köln"}}, ensure_ascii=ascii_only)
    query = Query(filter={"EQ": {"città.nome": "Köln"}}, sort=[{"key": "città.nome"}])
    where, params, order = compile_query(query)
    with sqlite3.connect(":memory:") as db:
        row = db.execute(f"WITH t(key, value) AS (VALUES ('k', ?)) SELECT {where} FROM t"
                         f" ORDER BY {order}", [value, *params]).fetchone()
    assert row == (1,)


def test_sort_and_key_tie_break():
    assert matching(Query(sort=[{"key": "n", "order": "DESC"}])) == ["c", "b", "a", "d", "e"]
    assert matching(Query(sort=[{"key": "s"}])) == ["c", "d", "e", "a", "b"]


def test_quotes_in_paths_are_harmless():
    assert matching(Query(filter={"EQ": {"it's": 1}}, sort=[{"key": "a'); DROP TABLE t; --"}])
                    ) == []


@pytest.mark.parametrize(("node", "named"), [
    ({"LIKE": {"s": "x"}}, "LIKE"),
    ({"EQ": {"a": 1}, "IN": {"b": [1]}}, "one operation"),
    ([{"EQ": {"a": 1}}], "[{"),
    ("EQ", '"EQ"'),
    ({"EQ": {"a": 1, "b": 2}}, "EQ"),
    ({"EQ": {}}, "EQ"),
    ({"EQ": {"a": [1]}}, "EQ"),
    ({"EQ": {"": 1}}, '""'),
    ({"EQ": {"a..b": 1}}, "a..b"),
    ({"EQ": {'a"b': 1}}, "a\\\"b"),
    ({"GT": {"a": None}}, "null"),
    ({"IN": {"a": []}}, "IN"),
    ({"IN": {"a": "x"}}, "IN"),
    ({"IN": {"a": [{"b": 1}]}}, "IN"),
    ({"AND": [{"EQ": {"a": 1}}]}, "AND"),
    ({"OR": {"EQ": {"a": 1}}}, "OR"),
    ({"AND": [{"EQ": {"a": 1}}, {"BAD": {}}]}, "BAD"),
])
def test_filter_errors_name_the_bad_part(node: Any, named: str):
    with pytest.raises(QueryError) as info:
        compile_filter(node)
    assert named in str(info.value)


@pytest.mark.parametrize(("sort", "named"), [
    ([{"order": "ASC"}], "key"),
    ([{"key": "a", "order": "sideways"}], "sideways"),
    (["a"], '"a"'),
    ([{"key": 5}], "5"),
])
def test_sort_errors_name_the_bad_part(sort: Any, named: str):
    with pytest.raises(QueryError) as info:
        compile_query(Query(sort=sort))
    assert named in str(info.value)
