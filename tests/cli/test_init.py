"""`edge init`: default components a sidecar loads, never overwritten unasked."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli.helpers import edge


def test_init_writes_defaults_a_sidecar_uses(env, spawn, tmp_path):
    home = Path(env["EDGE_HOME"])  # the home the harness gives its sidecars too
    result = edge(env, "init")
    assert result.returncode == 0, result.stderr
    assert f"Wrote {home / 'components' / 'statestore.yaml'}" in result.stdout
    assert f"Wrote {home / 'config.yaml'}" in result.stdout
    store = yaml.safe_load((home / "components" / "statestore.yaml").read_text())
    assert store["metadata"]["name"] == "statestore"
    assert store["spec"]["type"] == "state.sqlite"
    config = yaml.safe_load((home / "config.yaml").read_text())
    assert (config["kind"], config["metadata"]["name"]) == ("Configuration", "daprConfig")

    sidecar = spawn.sidecar("orders")  # no --resources-path: the home's defaults
    with sidecar.client() as http:
        assert http.post("/v1.0/state/statestore", json=[{"key": "k", "value": "v"}]) \
            .status_code == 204
        assert http.get("/v1.0/state/statestore/k").json() == "v"
        components = http.get("/v1.0/metadata").json()["components"]
    assert [(c["name"], c["type"]) for c in components] == [("statestore", "state.sqlite")]
    assert (home / "state" / "state.db").is_file()


def test_init_keeps_existing_files_unless_forced(env):
    home = Path(env["EDGE_HOME"])
    assert edge(env, "init").returncode == 0
    store = home / "components" / "statestore.yaml"
    store.write_text("# mine\n")

    again = edge(env, "init")
    assert again.returncode == 0
    assert f"Kept {store} (exists; --force overwrites it)" in again.stdout
    assert store.read_text() == "# mine\n"

    forced = edge(env, "init", "--force")
    assert forced.returncode == 0
    assert f"Wrote {store}" in forced.stdout
    assert "state.sqlite" in store.read_text()
