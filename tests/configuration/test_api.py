"""The Configuration API against real sidecars and a real app: get, subscribe,
pushed updates when another process changes the store, unsubscribe, errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from tests.configuration.conftest import write_rows
from tests.harness import edge_command, write_component


@pytest.fixture
def stores(tmp_path, component):
    db = tmp_path / "config.db"
    write_rows(db, [("speed", "120", "3", {"unit": "km/h"}), ("mode", "eco", "", {})])
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text("greeting: hello\nlimit:\n  value: 5\n  version: '7'\n"
                         "  metadata: {owner: ops}\n")
    component("configstore", "configuration.sqlite", {"connectionString": str(db)})
    component("filestore", "configuration.local.file", {"path": str(yaml_file)})
    return tmp_path / "resources", db, yaml_file


def test_get_all_some_and_missing_keys_on_both_paths(spawn, stores):
    resources, _, _ = stores
    sidecar = spawn.sidecar("reader", resources)
    with sidecar.client() as http:
        everything = http.get("/v1.0/configuration/configstore")
        assert everything.status_code == 200
        assert everything.json() == {
            "speed": {"value": "120", "version": "3", "metadata": {"unit": "km/h"}},
            "mode": {"value": "eco"},
        }
        some = http.get("/v1.0/configuration/configstore",
                        params=[("key", "speed"), ("key", "nothere")])
        assert some.json() == {"speed": {"value": "120", "version": "3",
                                         "metadata": {"unit": "km/h"}}}
        none = http.get("/v1.0/configuration/configstore", params={"key": "nothere"})
        assert (none.status_code, none.content) == (204, b"")
        alpha = http.get("/v1.0-alpha1/configuration/filestore",
                         params={"key": "limit", "metadata.x": "y"})
        assert alpha.status_code == 200
        assert alpha.json() == {"limit": {"value": "5", "version": "7",
                                          "metadata": {"owner": "ops"}}}
        assert http.get("/v1.0/configuration/filestore").json() == {
            "greeting": {"value": "hello"},
            "limit": {"value": "5", "version": "7", "metadata": {"owner": "ops"}},
        }
        components = http.get("/v1.0/metadata").json()["components"]
        assert {(c["name"], c["type"]) for c in components} == {
            ("configstore", "configuration.sqlite"), ("filestore", "configuration.local.file")}


def test_sqlite_changes_by_other_processes_are_pushed_until_unsubscribed(
        spawn, stores, recorder):
    resources, db, _ = stores
    sidecar = spawn.sidecar("watcher", resources, app_port=recorder.port)
    with sidecar.client() as http:
        one = http.get("/v1.0/configuration/configstore/subscribe", params={"key": "speed"})
        assert one.status_code == 200
        speed_id = one.json()["id"]
        every_id = http.get("/v1.0-alpha1/configuration/configstore/subscribe").json()["id"]
        assert speed_id != every_id

        # `edge config set` in its own process: the version is counted up.
        done = subprocess.run(
            edge_command("config", "set", "configstore", "speed", "80", "-m", "unit=mph",
                         "--resources-path", str(resources)),
            capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stderr
        pushed = recorder.wait_for(lambda p: p["body"]["id"] == speed_id)
        assert pushed["path"] == "/configuration/configstore/speed"
        assert pushed["content_type"] == "application/json"
        assert pushed["body"] == {"id": speed_id, "items": {
            "speed": {"value": "80", "version": "4", "metadata": {"unit": "mph"}}}}
        recorder.wait_for(lambda p: p["body"]["id"] == every_id
                          and "speed" in p["body"]["items"])

        # A writer that does not touch `version` is noticed too; so is a delete.
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE configuration SET value = 'sport' WHERE key = 'mode'")
        conn.close()
        mode = recorder.wait_for(lambda p: p["path"] == "/configuration/configstore/mode")
        assert mode["body"] == {"id": every_id, "items": {"mode": {"value": "sport"}}}

        gone = http.get(f"/v1.0/configuration/configstore/{speed_id}/unsubscribe")
        assert (gone.status_code, gone.json()) == (200, {"ok": True})
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM configuration WHERE key = 'speed'")
        conn.close()
        deleted = recorder.wait_for(lambda p: p["body"]["items"] == {"speed": {}})
        assert deleted["body"]["id"] == every_id
        # One more change, seen by the remaining subscription a poll later: by then a
        # push for the ended one would have arrived too.
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE configuration SET value = 'eco' WHERE key = 'mode'")
        conn.close()
        recorder.wait_for(lambda p: p["body"]["items"] == {"mode": {"value": "eco"}})
        assert [p for p in recorder.received() if p["body"]["id"] == speed_id] == [pushed]

        again = http.get(f"/v1.0/configuration/configstore/{speed_id}/unsubscribe")
        assert again.status_code == 500
        assert again.json()["ok"] is False
        assert again.json()["errorCode"] == "ERR_CONFIGURATION_UNSUBSCRIBE"
        assert speed_id in again.json()["message"]


def test_yaml_edits_are_pushed_and_a_broken_file_keeps_the_last_items(
        spawn, stores, recorder):
    resources, _, yaml_file = stores
    sidecar = spawn.sidecar("filewatcher", resources, app_port=recorder.port)
    with sidecar.client() as http:
        sub = http.get("/v1.0/configuration/filestore/subscribe",
                       params=[("key", "greeting"), ("key", "limit")]).json()["id"]

        yaml_file.write_text("greeting: hi\nlimit:\n  value: 5\n  version: '7'\n"
                             "  metadata: {owner: ops}\nother: x\n")
        pushed = recorder.wait_for(lambda p: p["path"] == "/configuration/filestore/greeting")
        # Only the subscribed key that changed; `other` is not subscribed.
        assert pushed["body"] == {"id": sub, "items": {"greeting": {"value": "hi"}}}

        yaml_file.write_text("greeting: [unclosed\n")
        assert http.get("/v1.0/configuration/filestore", params={"key": "greeting"}).json() \
            == {"greeting": {"value": "hi"}}

        yaml_file.write_text("greeting: hey\n")
        # As daprd does: one POST per changed key, each carrying the whole update;
        # a deleted key's item is empty.
        update = {"id": sub, "items": {"greeting": {"value": "hey"}, "limit": {}}}
        for key in ("greeting", "limit"):
            recorder.wait_for(lambda p, k=key: p["path"] == f"/configuration/filestore/{k}"
                              and p["body"] == update)
    output = sidecar.output()
    assert str(yaml_file) in output and "not valid YAML" in output
    assert "keeping the last good items" in output


def test_error_codes(spawn, stores, tmp_path):
    plain = tmp_path / "plain"
    write_component(plain, "statestore", "state.in-memory")
    with spawn.sidecar("nostore", plain).client() as http:
        none = http.get("/v1.0/configuration/configstore")
        assert none.status_code == 500
        assert none.json()["errorCode"] == "ERR_CONFIGURATION_STORE_NOT_CONFIGURED"
    config_resources, _, _ = stores
    with spawn.sidecar("noapp", config_resources).client() as http:
        for path in ("/v1.0/configuration/nope", "/v1.0-alpha1/configuration/nope/subscribe",
                     "/v1.0/configuration/nope/some-id/unsubscribe"):
            unknown = http.get(path)
            assert unknown.status_code == 400, path
            assert unknown.json() == {"errorCode": "ERR_CONFIGURATION_STORE_NOT_FOUND",
                                      "message": "configuration store nope not found"}
        no_app = http.get("/v1.0/configuration/configstore/subscribe")
        assert no_app.status_code == 500
        assert no_app.json()["errorCode"] == "ERR_APP_CHANNEL_NIL"


def test_a_broken_yaml_file_stops_the_sidecar_naming_it(tmp_path, component):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    component("filestore", "configuration.local.file", {"path": str(bad)})
    done = subprocess.run(
        [sys.executable, "-m", "edge", "sidecar", "--app-id", "x", "--dapr-http-port", "0",
         "--resources-path", str(tmp_path / "resources")],
        capture_output=True, text=True, timeout=20, env={"EDGE_HOME": str(tmp_path / "home"),
                                                         "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert "filestore" in done.stderr + done.stdout
    assert f"{bad}: not valid YAML" in done.stderr + done.stdout
