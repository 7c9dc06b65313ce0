"""Key prefixes on a shared SQLite file: app ids are kept apart by default,
`keyPrefix: none` shares, `keyPrefix: name` shares by store name. Keys are
stored as Dapr stores them, so a Dapr sidecar could read the same file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.harness import write_component
from tests.state.helpers import get, new_key, save


def sqlite_store(folder: Path, db: Path, name: str = "statestore", **meta: str) -> Path:
    write_component(folder, name, "state.sqlite", {"connectionString": str(db), **meta})
    return folder


def stored_keys(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT key FROM state")}


def two_apps(spawn, tmp_path, **meta: str):
    db = tmp_path / "shared.db"
    res_a = sqlite_store(tmp_path / "res-a", db, **meta)
    res_b = sqlite_store(tmp_path / "res-b", db, **meta)
    return db, spawn.sidecar("app-a", res_a), spawn.sidecar("app-b", res_b)


def test_app_ids_do_not_see_each_others_keys(spawn, tmp_path):
    db, a, b = two_apps(spawn, tmp_path)
    key = new_key()
    with a.client() as ca, b.client() as cb:
        assert save(ca, "statestore", {"key": key, "value": "from-a"}).status_code == 204
        assert get(cb, "statestore", key).status_code == 204
        assert save(cb, "statestore", {"key": key, "value": "from-b"}).status_code == 204
        assert get(ca, "statestore", key).json() == "from-a"
        assert get(cb, "statestore", key).json() == "from-b"
    assert stored_keys(db) == {f"app-a||{key}", f"app-b||{key}"}


def test_key_prefix_none_shares_keys(spawn, tmp_path):
    db, a, b = two_apps(spawn, tmp_path, keyPrefix="None")
    key = new_key()
    with a.client() as ca, b.client() as cb:
        save(ca, "statestore", {"key": key, "value": "from-a"})
        assert get(cb, "statestore", key).json() == "from-a"
    assert stored_keys(db) == {key}


def test_key_prefix_name_shares_by_store_name(spawn, tmp_path):
    db = tmp_path / "shared.db"
    folder_a = sqlite_store(tmp_path / "res-a", db, keyPrefix="name")
    folder_b = sqlite_store(tmp_path / "res-b", db, keyPrefix="name")
    sqlite_store(folder_b, db, name="other", keyPrefix="name")
    a, b = spawn.sidecar("app-a", folder_a), spawn.sidecar("app-b", folder_b)
    key = new_key()
    with a.client() as ca, b.client() as cb:
        save(ca, "statestore", {"key": key, "value": "shared"})
        assert get(cb, "statestore", key).json() == "shared"
        assert get(cb, "other", key).status_code == 204
    assert stored_keys(db) == {f"statestore||{key}"}


def test_key_prefix_namespace_uses_the_namespace_env(spawn, tmp_path):
    db = tmp_path / "state.db"
    sidecar = spawn.sidecar("app", sqlite_store(tmp_path / "res", db, keyPrefix="namespace"),
                            env={"NAMESPACE": "prod"})
    with sidecar.client() as client:
        save(client, "statestore", {"key": "k", "value": 1})
        assert get(client, "statestore", "k").json() == 1
    assert stored_keys(db) == {"prod.app||k"}


def test_custom_key_prefix_is_lower_cased(spawn, tmp_path):
    db = tmp_path / "state.db"
    sidecar = spawn.sidecar("app", sqlite_store(tmp_path / "res", db, keyPrefix="MyTeam"))
    with sidecar.client() as client:
        save(client, "statestore", {"key": "k", "value": 1})
        assert get(client, "statestore", "k").json() == 1
    assert stored_keys(db) == {"myteam||k"}


def test_custom_key_prefix_with_double_pipe_is_refused_at_startup(spawn, tmp_path):
    folder = sqlite_store(tmp_path / "res", tmp_path / "state.db", keyPrefix="a||b")
    with pytest.raises(RuntimeError, match="keyPrefix"):
        spawn.sidecar("app", folder)
