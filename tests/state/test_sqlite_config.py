"""state.sqlite component metadata as an operator writes it: table names,
and the cleanup that removes expired rows from the file itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.harness import write_component
from tests.state.helpers import get, poll, save


def rows(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute(f"SELECT key FROM {table}")]


def test_custom_table_name_and_cleanup_of_expired_rows(spawn, tmp_path):
    db = tmp_path / "gw.db"
    folder = tmp_path / "res"
    write_component(folder, "statestore", "state.sqlite", {
        "connectionString": str(db), "tableName": "edge_state", "cleanupInterval": "200ms"})
    sidecar = spawn.sidecar("app", folder)
    with sidecar.client() as client:
        save(client, "statestore", {"key": "brief", "value": 1, "metadata": {"ttlInSeconds": "1"}},
             {"key": "kept", "value": 2})
        assert sorted(rows(db, "edge_state")) == ["app||brief", "app||kept"]
        assert poll(lambda: rows(db, "edge_state") == ["app||kept"], timeout=5)
        assert get(client, "statestore", "kept").json() == 2


@pytest.mark.parametrize("table", ["tàble", "x; DROP TABLE y"])
def test_unsafe_table_name_is_refused_at_startup(spawn, tmp_path, table):
    folder = tmp_path / "res"
    write_component(folder, "statestore", "state.sqlite",
                    {"connectionString": str(tmp_path / "s.db"), "tableName": table})
    with pytest.raises(RuntimeError, match="tableName"):
        spawn.sidecar("app", folder)
