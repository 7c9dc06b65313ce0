"""SQLite state outlives the sidecar: a clean restart or a kill -9 right
after an acknowledged save keeps it, and two sidecars can share one file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.harness import write_component
from tests.state.helpers import etag_of, get, new_key, save, transact, upsert


def test_restart_keeps_values_etags_and_ttl(spawn, sqlite_resources):
    first = spawn.sidecar("keeper", sqlite_resources)
    with first.client() as client:
        save(client, "statestore", {"key": "plain", "value": {"n": 1}},
             {"key": "timed", "value": 2, "metadata": {"ttlInSeconds": "3600"}})
        etag = etag_of(client, "statestore", "plain")
        expires = get(client, "statestore", "timed").headers["metadata.ttlExpireTime"]
    assert first.stop() == 0
    second = spawn.sidecar("keeper", sqlite_resources)
    with second.client() as client:
        r = get(client, "statestore", "plain")
        assert r.text == '{"n":1}'
        assert r.headers["etag"] == etag
        assert get(client, "statestore", "timed").headers["metadata.ttlExpireTime"] == expires
        # The old etag still guards the item after the restart.
        assert save(client, "statestore", {"key": "plain", "value": 3, "etag": etag}
                    ).status_code == 204


def test_kill_9_after_acknowledged_writes_keeps_them(spawn, sqlite_resources):
    first = spawn.sidecar("crashy", sqlite_resources)
    keys = [new_key() for _ in range(5)]
    with first.client() as client:
        for i, key in enumerate(keys):
            assert save(client, "statestore", {"key": key, "value": i}).status_code == 204
        assert transact(client, "statestore", upsert("tx-a", "a"), upsert("tx-b", "b")
                        ).status_code == 204
    first.kill()
    second = spawn.sidecar("crashy", sqlite_resources)
    with second.client() as client:
        assert [get(client, "statestore", k).json() for k in keys] == list(range(5))
        assert get(client, "statestore", "tx-b").json() == "b"


def test_two_sidecars_share_one_file_under_parallel_load(spawn, tmp_path):
    db = str(tmp_path / "shared.db")
    folders = [tmp_path / f"res-{n}" for n in (1, 2)]
    for folder in folders:
        write_component(folder, "statestore", "state.sqlite",
                        {"connectionString": db, "keyPrefix": "none"})
    sidecars = [spawn.sidecar(f"gw-{n}", folder) for n, folder in enumerate(folders)]
    clients = [sidecar.client() for sidecar in sidecars]
    prefix = new_key("shared")

    def work(n: int) -> list[int]:
        mine, peer = n % 2, 1 - n % 2
        client, key = clients[mine], f"{prefix}-{mine}-{n}"
        return [
            save(client, "statestore", {"key": key, "value": n}).status_code,
            transact(client, "statestore", upsert(key + "-tx", n),
                     upsert(f"{prefix}-counter", n)).status_code,
            get(client, "statestore", f"{prefix}-{peer}-{n}").status_code,
        ]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(40)))
    assert all(codes[:2] == [204, 204] and codes[2] in (200, 204) for codes in results), results
    for n in range(40):
        reader = clients[1 - n % 2]
        assert get(reader, "statestore", f"{prefix}-{n % 2}-{n}").json() == n
        assert get(reader, "statestore", f"{prefix}-{n % 2}-{n}-tx").json() == n
    for client in clients:
        client.close()
    logs = "".join(s.output() for s in sidecars)
    assert "database is locked" not in logs
