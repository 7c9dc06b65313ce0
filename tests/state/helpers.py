"""Small helpers for talking to the Dapr state API the way a client would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx


def new_key(label: str = "k") -> str:
    """A key no other test uses, so tests can share a sidecar."""
    return f"{label}-{uuid.uuid4().hex[:12]}"


def save(http: httpx.Client, store: str, *items: dict[str, Any],
         params: dict[str, str] | None = None) -> httpx.Response:
    return http.post(f"/v1.0/state/{store}", json=list(items), params=params)


def save_raw(http: httpx.Client, store: str, body: str | bytes) -> httpx.Response:
    """Send the body exactly as given, for byte-exact and malformed-body tests."""
    return http.post(f"/v1.0/state/{store}", content=body,
                     headers={"content-type": "application/json"})


def get(http: httpx.Client, store: str, key: str, **params: str) -> httpx.Response:
    return http.get(f"/v1.0/state/{store}/{key}", params=params)


def etag_of(http: httpx.Client, store: str, key: str) -> str:
    r = get(http, store, key)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


def transact(http: httpx.Client, store: str, *ops: dict[str, Any]) -> httpx.Response:
    return http.post(f"/v1.0/state/{store}/transaction", json={"operations": list(ops)})


def upsert(key: str, value: Any, **request: Any) -> dict[str, Any]:
    return {"operation": "upsert", "request": {"key": key, "value": value, **request}}


def delete(key: str, **request: Any) -> dict[str, Any]:
    return {"operation": "delete", "request": {"key": key, **request}}


def assert_error(r: httpx.Response, status: int, code: str, *fragments: str) -> None:
    """A Dapr error: status, JSON content type, errorCode, and message parts."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["errorCode"] == code, body
    for fragment in fragments:
        assert fragment in body["message"], body


def poll(check: Callable[[], bool], timeout: float = 5.0, every: float = 0.05) -> bool:
    """True as soon as check() is, False if it never is within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()
