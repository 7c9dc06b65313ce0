"""The alpha query API on state.sqlite (a deliberate extension: Dapr's
SQLite store has none). Every test tags its items with its own batch id and
filters on it, so tests sharing the store do not see each other's data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.state.helpers import assert_error, new_key, poll, save

PEOPLE = [
    ("ann", {"name": "Ann", "age": 31, "org": {"dept": "ops", "level": 2}}),
    ("bob", {"name": "Bob", "age": 25, "org": {"dept": "dev", "level": 3}}),
    ("cid", {"name": "Cid", "age": 47, "org": {"dept": "dev", "level": 1}}),
    ("dee", {"name": "Dee", "age": 25.5, "org": {"dept": "hr", "level": 2}}),
    ("eve", {"name": "Eve", "age": "old", "org": {"dept": "ops", "level": 5}}),
]


@pytest.fixture
def batch(http) -> dict[str, str]:
    """Saves PEOPLE under fresh keys; returns key by name."""
    tag = new_key("batch")
    keys = {name: f"{tag}-{name}" for name, _ in PEOPLE}
    items = [{"key": keys[name], "value": {"batch": tag, **person}} for name, person in PEOPLE]
    assert save(http, "sqlite", *items).status_code == 204
    keys["tag"] = tag
    return keys


def query(http, body: Any, store: str = "sqlite"):
    return http.post(f"/v1.0-alpha1/state/{store}/query", json=body)


def within(batch: dict[str, str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    tagged = {"EQ": {"batch": batch["tag"]}}
    return {"AND": [tagged, condition]} if condition else tagged


def names(batch: dict[str, str], body: dict[str, Any]) -> list[str]:
    by_key = {key: name for name, key in batch.items()}
    return [by_key[entry["key"]] for entry in body["results"]]


def run(http, batch, condition=None, **extra) -> list[str]:
    r = query(http, {"filter": within(batch, condition), **extra})
    if r.status_code == 204:
        return []
    assert r.status_code == 200, r.text
    return names(batch, r.json())


SORT_BY_NAME = [{"key": "name"}]


@pytest.mark.parametrize(("condition", "expected"), [
    ({"EQ": {"org.dept": "dev"}}, ["bob", "cid"]),
    ({"EQ": {"age": 25}}, ["bob"]),
    ({"NEQ": {"org.dept": "dev"}}, ["ann", "dee", "eve"]),
    ({"GT": {"age": 30}}, ["ann", "cid"]),
    ({"GTE": {"age": 31}}, ["ann", "cid"]),
    ({"LT": {"age": 26}}, ["bob", "dee"]),
    ({"LTE": {"org.level": 2}}, ["ann", "cid", "dee"]),
    ({"GT": {"name": "C"}}, ["cid", "dee", "eve"]),
    ({"IN": {"org.dept": ["hr", "ops"]}}, ["ann", "dee", "eve"]),
    ({"OR": [{"EQ": {"name": "Ann"}}, {"EQ": {"org.level": 3}}]}, ["ann", "bob"]),
    ({"AND": [{"EQ": {"org.dept": "ops"}}, {"GT": {"org.level": 2}}]}, ["eve"]),
    ({"OR": [{"AND": [{"EQ": {"org.dept": "dev"}}, {"LT": {"age": 30}}]},
             {"IN": {"name": ["Eve"]}}]}, ["bob", "eve"]),
])
def test_filters(http, batch, condition, expected):
    assert run(http, batch, condition, sort=SORT_BY_NAME) == expected


def test_results_carry_key_data_and_etag(http, batch):
    r = query(http, {"filter": within(batch, {"EQ": {"name": "Bob"}})})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    [entry] = r.json()["results"]
    assert entry["key"] == batch["bob"]
    assert entry["data"]["org"] == {"dept": "dev", "level": 3}
    etag = http.get(f"/v1.0/state/sqlite/{batch['bob']}").headers["etag"]
    assert entry["etag"] == etag
    assert "token" not in r.json()


def test_sort_on_nested_paths_both_ways(http, batch):
    sort = [{"key": "org.level", "order": "DESC"}, {"key": "name", "order": "ASC"}]
    assert run(http, batch, sort=sort) == ["eve", "bob", "ann", "dee", "cid"]
    sort = [{"key": "org.dept"}, {"key": "org.level", "order": "DESC"}]
    assert run(http, batch, sort=sort) == ["bob", "cid", "dee", "eve", "ann"]


def test_paging_with_limit_and_token_until_exhausted(http, batch):
    seen: list[str] = []
    body: dict[str, Any] = {"filter": within(batch), "sort": SORT_BY_NAME, "page": {"limit": 2}}
    for _ in range(5):
        r = query(http, body)
        assert r.status_code == 200, r.text
        page = names(batch, r.json())
        assert 1 <= len(page) <= 2
        seen += page
        token = r.json().get("token")
        if token is None:
            break
        body["page"]["token"] = token
    assert seen == ["ann", "bob", "cid", "dee", "eve"]


def test_exact_page_boundary_gives_no_token(http, batch):
    body = {"filter": within(batch, {"EQ": {"org.dept": "dev"}}), "page": {"limit": 2}}
    r = query(http, body)
    assert len(r.json()["results"]) == 2
    assert "token" not in r.json()


def test_no_results_is_204(http, batch):
    r = query(http, {"filter": within(batch, {"EQ": {"name": "Nobody"}})})
    assert r.status_code == 204
    assert r.content == b""


def test_other_apps_items_are_not_returned(spawn, sqlite_resources):
    tag = new_key("batch")
    # One app id is a prefix of the other: "q||x" and "qa||x" must stay apart.
    a, b = spawn.sidecar("qa", sqlite_resources), spawn.sidecar("q", sqlite_resources)
    with a.client() as ca, b.client() as cb:
        save(ca, "statestore", {"key": "x", "value": {"batch": tag}})
        assert query(cb, {"filter": {"EQ": {"batch": tag}}}, "statestore").status_code == 204
        r = query(ca, {"filter": {"EQ": {"batch": tag}}}, "statestore")
        assert [e["key"] for e in r.json()["results"]] == ["x"]


def test_expired_items_are_not_returned(http):
    tag = new_key("batch")
    save(http, "sqlite", {"key": new_key(), "value": {"batch": tag},
                          "metadata": {"ttlInSeconds": "1"}})
    body = {"filter": {"EQ": {"batch": tag}}}
    assert query(http, body).status_code == 200
    assert poll(lambda: query(http, body).status_code == 204, timeout=4)


BAD_QUERIES = {
    "unknown-operation": ({"filter": {"LIKE": {"name": "A%"}}}, "LIKE"),
    "two-operations": ({"filter": {"EQ": {"a": 1}, "NEQ": {"b": 2}}}, "one operation"),
    "eq-two-fields": ({"filter": {"EQ": {"a": 1, "b": 2}}}, "EQ"),
    "and-one-entry": ({"filter": {"AND": [{"EQ": {"a": 1}}]}}, "AND"),
    "in-not-a-list": ({"filter": {"IN": {"a": 1}}}, "IN"),
    "compare-object": ({"filter": {"EQ": {"a": {"b": 1}}}}, "EQ"),
    "filter-a-list": ({"filter": [{"EQ": {"a": 1}}]}, "filter"),
    "bad-order": ({"sort": [{"key": "a", "order": "UP"}]}, "UP"),
    "sort-without-key": ({"sort": [{"order": "ASC"}]}, "key"),
    "sort-not-a-list": ({"sort": {"key": "a"}}, "sort"),
    "bad-limit": ({"page": {"limit": "ten"}}, "limit"),
    "bad-token": ({"page": {"limit": 1, "token": "xyz"}}, "token"),
    "token-not-a-string": ({"page": {"limit": 1, "token": 2}}, "token"),
    "negative-limit": ({"page": {"limit": -1}}, "limit"),
    "not-an-object": ([], "object"),
}


@pytest.mark.parametrize(("body", "fragment"), BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_bad_query_is_500(http, body, fragment):
    assert_error(query(http, body), 500, "ERR_STATE_QUERY", "sqlite", fragment)


def test_query_body_not_json_is_500(http):
    r = http.post("/v1.0-alpha1/state/sqlite/query", content="{oops")
    assert_error(r, 500, "ERR_STATE_QUERY")


def test_in_memory_store_does_not_support_queries(http):
    assert_error(query(http, {}, "memory"), 500, "ERR_STATE_STORE_NOT_SUPPORTED",
                 "does not support querying")
