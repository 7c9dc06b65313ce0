"""The lock API on one sidecar with one store of each type: Dapr's bodies,
the four unlock outcomes, expiry, and the errors daprd gives."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Spawner
from tests.harness import Sidecar, write_component
from tests.lock.helpers import lock, locked, poll, unique, unlock

STORES = ("sqlite", "memory")
SUCCESS, LOCK_DOES_NOT_EXIST, LOCK_BELONGS_TO_OTHERS = 0, 1, 2


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lock")


@pytest.fixture(scope="module")
def sidecar(workdir: Path) -> Iterator[Sidecar]:
    folder = workdir / "resources"
    write_component(folder, "sqlite", "lock.sqlite", {"connectionString": str(workdir / "l.db")})
    write_component(folder, "memory", "lock.in-memory")
    spawner = Spawner(workdir)
    yield spawner.sidecar("lockapp", folder)
    spawner.close()


@pytest.fixture
def http(sidecar: Sidecar) -> Iterator[httpx.Client]:
    with sidecar.client() as client:
        yield client


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_lock_answers_success_and_a_second_owner_is_refused(http, store):
    resource = unique()
    response = lock(http, store, resource, "owner-a")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert lock(http, store, resource, "owner-b").json() == {"success": False}
    # Not re-entrant, as Dapr's stores: the holder itself is refused too.
    assert locked(http, store, resource, "owner-a") is False


def test_unlock_statuses(http, store):
    resource = unique()
    assert unlock(http, store, resource, "owner-a") == LOCK_DOES_NOT_EXIST
    assert locked(http, store, resource, "owner-a")
    assert unlock(http, store, resource, "owner-b") == LOCK_BELONGS_TO_OTHERS
    response = http.post(f"/v1.0-alpha1/unlock/{store}",
                         json={"resourceId": resource, "lockOwner": "owner-a"})
    assert response.status_code == 200
    assert response.json() == {"status": SUCCESS}
    assert unlock(http, store, resource, "owner-a") == LOCK_DOES_NOT_EXIST
    assert locked(http, store, resource, "owner-b")


def test_resources_are_independent(http, store):
    first, second = unique(), unique()
    assert locked(http, store, first, "owner")
    assert locked(http, store, second, "owner")


def test_expired_lock_is_free_again(http, store):
    resource = unique()
    assert locked(http, store, resource, "owner-a", expiry=1)
    assert locked(http, store, resource, "owner-b") is False
    assert poll(lambda: locked(http, store, resource, "owner-b"), timeout=5)
    # The first owner's lock is gone, not merely overtaken.
    assert unlock(http, store, resource, "owner-a") == LOCK_BELONGS_TO_OTHERS
    assert unlock(http, store, resource, "owner-b") == SUCCESS


def test_expired_lock_no_longer_exists_for_its_owner(http, store):
    resource = unique()
    assert locked(http, store, resource, "owner-a", expiry=1)
    assert poll(lambda: unlock(http, store, resource, "owner-a") == LOCK_DOES_NOT_EXIST)


@pytest.mark.parametrize("expiry", ["30", 30.0])
def test_expiry_as_protobuf_json_reads_an_int32(http, expiry):
    assert locked(http, "memory", unique(), "owner", expiry=expiry)


def test_sqlite_key_is_prefixed_with_the_app_id(http, workdir):
    resource = unique()
    assert locked(http, "sqlite", resource, "owner-a")
    with sqlite3.connect(workdir / "l.db") as conn:
        rows = conn.execute("SELECT key, owner FROM locks WHERE key LIKE ?",
                            (f"%{resource}",)).fetchall()
    assert rows == [(f"lock||lockapp||{resource}", "owner-a")]


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code, body
    return str(body["message"])


@pytest.mark.parametrize("path", ["lock", "unlock"])
def test_unknown_store(http, path):
    response = http.post(f"/v1.0-alpha1/{path}/nostore",
                         json={"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 5})
    message = _error(response, 400, "ERR_LOCK_STORE_NOT_FOUND")
    assert message == "lock store nostore not found"


@pytest.mark.parametrize("body, message", [
    ({"lockOwner": "o", "expiryInSeconds": 5}, "ResourceId is empty in lock store sqlite"),
    ({"resourceId": "", "lockOwner": "o", "expiryInSeconds": 5},
     "ResourceId is empty in lock store sqlite"),
    ({"resourceId": "r", "expiryInSeconds": 5}, "LockOwner is empty in lock store sqlite"),
    ({"resourceId": "r", "lockOwner": "o"}, "ExpiryInSeconds is not positive in lock store sqlite"),
    ({"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 0},
     "ExpiryInSeconds is not positive in lock store sqlite"),
    ({"resourceId": "r", "lockOwner": "o", "expiryInSeconds": -1},
     "ExpiryInSeconds is not positive in lock store sqlite"),
])
def test_lock_with_empty_fields_is_malformed(http, body, message):
    response = http.post("/v1.0-alpha1/lock/sqlite", json=body)
    assert _error(response, 400, "ERR_MALFORMED_REQUEST") == message


def test_expiry_is_checked_before_the_store(http):
    # daprd checks expiryInSeconds first, even before the store's name.
    response = http.post("/v1.0-alpha1/lock/nostore", json={"resourceId": "r", "lockOwner": "o"})
    _error(response, 400, "ERR_MALFORMED_REQUEST")


@pytest.mark.parametrize("body, message", [
    ({"lockOwner": "o"}, "ResourceId is empty in lock store memory"),
    ({"resourceId": "r", "lockOwner": ""}, "LockOwner is empty in lock store memory"),
])
def test_unlock_with_empty_fields_is_malformed(http, body, message):
    response = http.post("/v1.0-alpha1/unlock/memory", json=body)
    assert _error(response, 400, "ERR_MALFORMED_REQUEST") == message


@pytest.mark.parametrize("raw", [
    b"{not json", b"[1, 2]", b'"text"',
    b'{"resourceId": 5, "lockOwner": "o", "expiryInSeconds": 5}',
    b'{"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 1.5}',
    b'{"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 4294967296}',
    b'{"resourceId": "r", "lockOwner": "o", "expiryInSeconds": true}',
    b'{"resourceId": "\\ud800", "lockOwner": "o", "expiryInSeconds": 5}',
])
def test_bad_body_is_malformed(http, raw):
    response = http.post("/v1.0-alpha1/lock/memory", content=raw,
                         headers={"content-type": "application/json"})
    _error(response, 400, "ERR_MALFORMED_REQUEST")


def test_resource_id_with_separator_fails_as_daprd(http, store):
    # daprd refuses '||' in a resource id when building the key: a store error.
    response = lock(http, store, "a||b", "owner")
    assert "can't contain" in _error(response, 500, "ERR_TRY_LOCK")
    response = http.post(f"/v1.0-alpha1/unlock/{store}",
                         json={"resourceId": "a||b", "lockOwner": "owner"})
    _error(response, 500, "ERR_UNLOCK")


def test_no_lock_store_configured(spawn, tmp_path):
    folder = tmp_path / "res"
    write_component(folder, "statestore", "state.in-memory")
    sidecar = spawn.sidecar("nolocks", folder)
    with sidecar.client() as client:
        body = {"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 5}
        for path in ("lock", "unlock"):
            response = client.post(f"/v1.0-alpha1/{path}/lockstore", json=body)
            message = _error(response, 500, "ERR_LOCK_STORE_NOT_CONFIGURED")
            assert message == "lock store is not configured"
        # A state store is no lock store.
        response = client.post("/v1.0-alpha1/lock/statestore", json=body)
        _error(response, 500, "ERR_LOCK_STORE_NOT_CONFIGURED")
