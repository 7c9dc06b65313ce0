"""Component metadata taken from a secret store at start (`secretKeyRef` with
`auth.secretStore`), and what happens when the reference cannot be resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.runtime.helpers import component_doc, failed_start, write_docs, write_json


def _store_with_ref(ref: dict[str, str], **extra: Any) -> dict[str, Any]:
    doc = component_doc("statestore", "state.sqlite", **extra)
    doc["spec"]["metadata"] = [{"name": "connectionString", "secretKeyRef": ref}]
    return doc


def _secret_store(secrets: Path, name: str = "files", multi: bool = False,
                  **extra: Any) -> dict[str, Any]:
    return component_doc(name, "secretstores.local.file",
                         {"secretsFile": str(secrets), "multiValued": str(multi).lower()}, **extra)


def test_connection_string_comes_from_a_file_secret_store(spawn, tmp_path: Path):
    db_multi, db_flat = tmp_path / "multi.db", tmp_path / "flat.db"
    secrets = write_json(tmp_path / "secrets.json",
                         {"db": {"path": str(db_multi)}, "flatdb": str(db_flat)})
    multi = _store_with_ref({"name": "db", "key": "path"}, auth={"secretStore": "multi"})
    flat = _store_with_ref({"name": "flatdb"}, auth={"secretStore": "flat"})
    flat["metadata"]["name"] = "flatstore"
    # The state stores come first in the folder: secret stores must still load before them.
    write_docs(tmp_path / "resources" / "a-state.yaml", multi, flat)
    write_docs(tmp_path / "resources" / "b-secrets.yaml",
               _secret_store(secrets, "multi", multi=True), _secret_store(secrets, "flat"))
    sidecar = spawn.sidecar("refs", tmp_path / "resources")
    with sidecar.client() as http:
        for store in ("statestore", "flatstore"):
            r = http.post(f"/v1.0/state/{store}", json=[{"key": "k", "value": store}])
            assert r.status_code == 204, r.text
            assert http.get(f"/v1.0/state/{store}/k").json() == store
    assert db_multi.is_file()
    assert db_flat.is_file()
    assert str(db_multi) not in sidecar.output()


@pytest.mark.parametrize(("case", "reason"), [
    ("missing secret", "secret 'nope' not found in files"),
    ("missing key", "has no key 'nope'"),
    ("no auth.secretStore", "needs auth.secretStore"),
    ("unknown secret store", "secret store 'ghost' (auth.secretStore) is not loaded"),
    ("secret store out of scope", "secret store 'files' (auth.secretStore) is not loaded"),
])
def test_unresolvable_secret_ref_stops_the_sidecar(spawn, tmp_path: Path, case, reason):
    secrets = write_json(tmp_path / "secrets.json", {"db": {"path": str(tmp_path / "x.db")}})
    ref, auth, scopes = {"name": "db", "key": "path"}, {"secretStore": "files"}, None
    if case == "missing secret":
        ref = {"name": "nope", "key": "path"}
    elif case == "missing key":
        ref = {"name": "db", "key": "nope"}
    elif case == "no auth.secretStore":
        auth = {}
    elif case == "unknown secret store":
        auth = {"secretStore": "ghost"}
    else:
        scopes = ["someone-else"]
    extra = {"scopes": scopes} if scopes else {}
    state = write_docs(tmp_path / "resources" / "state.yaml", _store_with_ref(ref, auth=auth))
    write_docs(tmp_path / "resources" / "secrets.yaml",
               _secret_store(secrets, multi=True, **extra))
    output = failed_start(spawn, tmp_path / "resources")
    assert str(state) in output
    assert "'statestore'" in output
    assert "'connectionString'" in output
    assert reason in output


def test_ignore_errors_starts_without_the_unresolvable_component(spawn, tmp_path: Path):
    doc = _store_with_ref({"name": "db", "key": "path"}, auth={"secretStore": "ghost"},
                          ignoreErrors=True)
    write_docs(tmp_path / "resources" / "state.yaml", doc)
    sidecar = spawn.sidecar("ignoring", tmp_path / "resources")
    with sidecar.client() as http:
        assert "components" not in http.get("/v1.0/metadata").json()
        r = http.get("/v1.0/state/statestore/k")
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_STATE_STORE_NOT_CONFIGURED"
    assert "statestore" in sidecar.output() and "ignoreErrors" in sidecar.output()
