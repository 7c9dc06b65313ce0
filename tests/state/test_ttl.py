"""Time to live: metadata.ttlInSeconds on items or in the query string,
the metadata.ttlExpireTime header, and which values mean "no expiry"."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.state.helpers import assert_error, get, new_key, poll, save

EXPIRE_HEADER = "metadata.ttlExpireTime"


def ttl(seconds: str) -> dict[str, str]:
    return {"ttlInSeconds": seconds}


def expire_time(header: str) -> float:
    return datetime.strptime(header, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_item_expires_after_its_ttl(http, store):
    key, other = new_key(), new_key()
    saved_at = time.time()
    save(http, store, {"key": key, "value": "short", "metadata": ttl("1")},
         {"key": other, "value": "long", "metadata": ttl("100")})
    assert get(http, store, key).status_code == 200
    assert poll(lambda: get(http, store, key).status_code == 204, timeout=4)
    assert time.time() - saved_at >= 0.9
    [entry] = http.post(f"/v1.0/state/{store}/bulk", json={"keys": [key]}).json()
    assert entry == {"key": key}
    assert get(http, store, other).status_code == 200
    # An expired item counts as absent: first-write may create it again.
    r = save(http, store, {"key": key, "value": "again",
                           "options": {"concurrency": "first-write"}})
    assert r.status_code == 204


def test_expire_time_header_is_utc_seconds(http, store):
    key = new_key()
    before = int(time.time())
    save(http, store, {"key": key, "value": 1, "metadata": ttl("60")})
    header = get(http, store, key).headers[EXPIRE_HEADER]
    assert header.endswith("Z") and len(header) == len("2024-01-01T00:00:00Z")
    assert before + 59 <= expire_time(header) <= time.time() + 60


def test_ttl_from_the_query_string_wins_over_the_item(http, store):
    key = new_key()
    r = save(http, store, {"key": key, "value": 1, "metadata": ttl("5000")},
             params={"metadata.ttlInSeconds": "60"})
    assert r.status_code == 204
    assert expire_time(get(http, store, key).headers[EXPIRE_HEADER]) <= time.time() + 61


@pytest.mark.parametrize("seconds", ["0", "-1"])
def test_zero_and_minus_one_mean_no_expiry_and_clear_an_old_one(http, store, seconds):
    key = new_key()
    save(http, store, {"key": key, "value": 1, "metadata": ttl("60")})
    assert EXPIRE_HEADER in get(http, store, key).headers
    save(http, store, {"key": key, "value": 2, "metadata": ttl(seconds)})
    r = get(http, store, key)
    assert r.json() == 2
    assert EXPIRE_HEADER not in r.headers


def test_update_without_ttl_clears_the_expiry(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1, "metadata": ttl("60")})
    save(http, store, {"key": key, "value": 2})
    assert EXPIRE_HEADER not in get(http, store, key).headers


@pytest.mark.parametrize("seconds", ["abc", "-2", "1.5", "2147483648", " 5", "1e3"])
def test_bad_ttl_is_500_and_nothing_is_saved(http, store, seconds):
    key = new_key()
    r = save(http, store, {"key": key, "value": 1, "metadata": ttl(seconds)})
    assert_error(r, 500, "ERR_STATE_SAVE", "ttlInSeconds")
    assert get(http, store, key).status_code == 204


def test_largest_ttl_is_accepted(http, store):
    key = new_key()
    assert save(http, store, {"key": key, "value": 1, "metadata": ttl("2147483647")}
                ).status_code == 204
    r = get(http, store, key)
    assert r.status_code == 200
    assert expire_time(r.headers[EXPIRE_HEADER]) > time.time() + 2147483000
