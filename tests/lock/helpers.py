"""Calls to the lock API as an app makes them, and polling with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.harness import TIME_SCALE


def unique(name: str = "res") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


def lock(client: httpx.Client, store: str, resource: str, owner: str,
         expiry: Any = 30) -> httpx.Response:
    return client.post(f"/v1.0-alpha1/lock/{store}",
                       json={"resourceId": resource, "lockOwner": owner,
                             "expiryInSeconds": expiry})


def locked(client: httpx.Client, store: str, resource: str, owner: str, expiry: Any = 30) -> bool:
    response = lock(client, store, resource, owner, expiry)
    assert response.status_code == 200, response.text
    return bool(response.json()["success"])


def unlock(client: httpx.Client, store: str, resource: str, owner: str) -> int:
    response = client.post(f"/v1.0-alpha1/unlock/{store}",
                           json={"resourceId": resource, "lockOwner": owner})
    assert response.status_code == 200, response.text
    return int(response.json()["status"])


def poll(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout * TIME_SCALE
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
