"""lock.sqlite shared by two sidecars (two processes) on one device: one
file, one owner per lock, whichever sidecar asks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Spawner
from tests.harness import Sidecar, wait_http, write_component
from tests.lock.helpers import locked, poll, unique, unlock

ATTEMPTS_PER_SIDECAR = 16


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sidecar, Sidecar, Path]]:
    """Two sidecars (two processes) whose components name one file: `lockstore` shared
    by both apps, `private` with Dapr's default prefix, `swept` cleaned every 200 ms.
    Each test uses resources of its own."""
    workdir = tmp_path_factory.mktemp("shared-lock")
    db = workdir / "shared-locks.db"
    spawner = Spawner(workdir)
    sidecars = []
    for app_id in ("gateway-a", "gateway-b"):
        # Each sidecar has its own resources folder, as on a real device.
        resources = workdir / f"res-{app_id}"
        write_component(resources, "lockstore", "lock.sqlite",
                        {"connectionString": str(db), "keyPrefix": "name"})
        write_component(resources, "private", "lock.sqlite", {"connectionString": str(db)})
        write_component(resources, "swept", "lock.sqlite", {
            "connectionString": str(db), "tableName": "swept", "cleanupInterval": "200ms"})
        sidecars.append(spawner.sidecar(app_id, resources, wait=""))
    # Started together, and together they create the file's schema, as at a device's boot.
    try:
        for sidecar in sidecars:
            wait_http(sidecar.url + "/v1.0/healthz/outbound", proc=sidecar.proc)
    except (TimeoutError, RuntimeError) as exc:
        spawner.close()
        raise RuntimeError(f"sidecars did not start: {exc}\n{spawner.logs()}") from None
    yield sidecars[0], sidecars[1], db
    spawner.close()


def keys(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute(f"SELECT key FROM {table}"))


def test_a_lock_taken_by_one_sidecar_holds_in_the_other(pair):
    a, b, _ = pair
    resource = unique()
    with a.client() as ca, b.client() as cb:
        assert locked(ca, "lockstore", resource, "owner-a")
        assert locked(cb, "lockstore", resource, "owner-b") is False
        assert unlock(cb, "lockstore", resource, "owner-b") == 2
        # The owner decides, not the sidecar it asks through.
        assert unlock(cb, "lockstore", resource, "owner-a") == 0
        assert locked(cb, "lockstore", resource, "owner-b")
        assert locked(ca, "lockstore", resource, "owner-a") is False


def test_many_concurrent_attempts_from_both_sidecars_have_one_winner(pair):
    a, b, _ = pair
    with a.client() as ca, b.client() as cb:
        for _ in range(3):
            resource = unique()
            attempts = [(client, resource, f"{name}-{i}") for i in range(ATTEMPTS_PER_SIDECAR)
                        for client, name in ((ca, "a"), (cb, "b"))]
            with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
                results = list(pool.map(
                    lambda job: (job[2], locked(job[0], "lockstore", job[1], job[2])), attempts))
            winners = [owner for owner, won in results if won]
            assert len(winners) == 1, results
            # The winner really holds it, in both sidecars' view.
            loser_client = cb if winners[0].startswith("a") else ca
            assert unlock(loser_client, "lockstore", resource, "nobody") == 2
            assert unlock(loser_client, "lockstore", resource, winners[0]) == 0


def test_an_expired_lock_is_taken_over_by_the_other_sidecar(pair):
    a, b, _ = pair
    resource = unique()
    with a.client() as ca, b.client() as cb:
        assert locked(ca, "lockstore", resource, "owner-a", expiry=1)
        assert locked(cb, "lockstore", resource, "owner-b", expiry=30) is False
        assert poll(lambda: locked(cb, "lockstore", resource, "owner-b", expiry=30))
        assert unlock(ca, "lockstore", resource, "owner-a") == 2


def test_default_prefix_keeps_apps_apart(pair):
    # keyPrefix appid (Dapr's default): two apps on one file never share a lock.
    a, b, db = pair
    resource = unique()
    with a.client() as ca, b.client() as cb:
        assert locked(ca, "private", resource, "owner")
        assert locked(cb, "private", resource, "owner")
    assert [k for k in keys(db, "locks") if k.endswith(resource)] == [
        f"lock||gateway-a||{resource}", f"lock||gateway-b||{resource}"]


def test_cleanup_deletes_expired_rows(pair):
    a, _, db = pair
    brief, kept = unique(), unique()
    with a.client() as client:
        assert locked(client, "swept", brief, "owner", expiry=1)
        assert locked(client, "swept", kept, "owner", expiry=60)
    assert f"lock||gateway-a||{brief}" in keys(db, "swept")
    assert poll(lambda: keys(db, "swept") == [f"lock||gateway-a||{kept}"], timeout=5)


def test_store_failure_is_err_try_lock(spawn, tmp_path):
    db = tmp_path / "l.db"
    folder = tmp_path / "res"
    write_component(folder, "lockstore", "lock.sqlite", {"connectionString": str(db)})
    sidecar = spawn.sidecar("app", folder)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE locks")
    with sidecar.client() as client:
        response = client.post("/v1.0-alpha1/lock/lockstore",
                               json={"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 5})
        assert response.status_code == 500
        assert response.json()["errorCode"] == "ERR_TRY_LOCK"
        response = client.post("/v1.0-alpha1/unlock/lockstore",
                               json={"resourceId": "r", "lockOwner": "o"})
        assert response.status_code == 500
        assert response.json()["errorCode"] == "ERR_UNLOCK"


@pytest.mark.parametrize("meta, field", [
    ({"tableName": "x; DROP TABLE y"}, "tableName"),
    ({"keyPrefix": "a||b"}, "keyPrefix"),
])
def test_bad_metadata_stops_the_sidecar(spawn, tmp_path, meta, field):
    folder = tmp_path / "res"
    write_component(folder, "lockstore", "lock.sqlite",
                    {"connectionString": str(tmp_path / "l.db"), **meta})
    with pytest.raises(RuntimeError, match=field):
        spawn.sidecar("app", folder)
