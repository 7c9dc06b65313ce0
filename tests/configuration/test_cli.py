"""`edge config set|get|list`, run as a user runs it, on both store types."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.harness import edge_command, write_component


def edge(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_HOME": str(tmp_path / "home")}
    return subprocess.run(edge_command("config", *args), env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=20)


@pytest.fixture
def sqlite_store(tmp_path):
    db = tmp_path / "data" / "config.db"
    db.parent.mkdir()
    write_component(tmp_path / "resources", "configstore", "configuration.sqlite",
                    {"connectionString": str(db), "tableName": "settings"})
    return tmp_path / "resources", db


def test_set_get_list_on_sqlite_counts_versions_up(tmp_path, sqlite_store):
    resources, db = sqlite_store
    where = f"table settings of {db}"
    first = edge(tmp_path, "set", "configstore", "speed", "120", "-d", str(resources))
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"speed set in configstore (version 1; {where})\n"
    second = edge(tmp_path, "set", "configstore", "speed", "90", "--metadata", "unit=km/h",
                  "-m", "by=ops", "-d", str(resources))
    assert second.stdout == f"speed set in configstore (version 2; {where})\n"
    assert edge(tmp_path, "set", "configstore", "mode", "eco", "--version", "v7", "-d",
                str(resources)).returncode == 0

    got = edge(tmp_path, "get", "configstore", "speed", "-d", str(resources))
    assert got.returncode == 0
    assert json.loads(got.stdout) == {
        "speed": {"value": "90", "version": "2", "metadata": {"unit": "km/h", "by": "ops"}}}
    listed = edge(tmp_path, "list", "configstore", "-d", str(resources))
    assert json.loads(listed.stdout) == {
        "mode": {"value": "eco", "version": "v7"},
        "speed": {"value": "90", "version": "2", "metadata": {"unit": "km/h", "by": "ops"}}}

    partly = edge(tmp_path, "get", "configstore", "mode", "nothere", "-d", str(resources))
    assert partly.returncode == 1
    assert json.loads(partly.stdout) == {"mode": {"value": "eco", "version": "v7"}}
    assert partly.stderr == f"not in configstore ({where}): nothere\n"

    no_count = edge(tmp_path, "set", "configstore", "mode", "sport", "-d", str(resources))
    assert no_count.returncode == 1
    assert "the current version 'v7' is not a whole number" in no_count.stderr
    assert "--version" in no_count.stderr
    bad_pair = edge(tmp_path, "set", "configstore", "mode", "x", "-m", "novalue",
                    "-d", str(resources))
    assert (bad_pair.returncode, bad_pair.stderr) == (
        1, "edge config: --metadata 'novalue' is not KEY=VALUE\n")


def test_yaml_store_in_the_default_resources_path(tmp_path):
    components = tmp_path / "home" / "components"
    config = tmp_path / "settings.yaml"
    config.write_text("greeting: hello\nlimit: {value: 5, version: '7'}\n")
    write_component(components, "filestore", "configuration.local.file", {"path": str(config)})

    done = edge(tmp_path, "set", "filestore", "greeting", "hi", "-m", "lang=en")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"greeting set in filestore (version 1; {config})\n"
    assert edge(tmp_path, "set", "filestore", "limit", "6").stdout.startswith(
        "limit set in filestore (version 8;")
    assert yaml.safe_load(config.read_text()) == {
        "greeting": {"value": "hi", "version": "1", "metadata": {"lang": "en"}},
        "limit": {"value": "6", "version": "8"}}
    assert json.loads(edge(tmp_path, "list", "filestore").stdout) == {
        "greeting": {"value": "hi", "version": "1", "metadata": {"lang": "en"}},
        "limit": {"value": "6", "version": "8"}}

    config.write_text("greeting: [broken\n")
    broken = edge(tmp_path, "get", "filestore", "greeting")
    assert broken.returncode == 1
    assert broken.stderr.startswith(f"edge config: {config}: not valid YAML")


def test_errors_name_the_store_and_its_file(tmp_path, sqlite_store):
    resources, _ = sqlite_store
    state = write_component(resources, "statestore", "state.sqlite",
                            {"connectionString": str(tmp_path / "state.db")})

    missing = edge(tmp_path, "get", "nope", "k", "-d", str(resources))
    assert missing.returncode == 1
    assert missing.stderr == (f"edge config: no component named 'nope' in {resources}; "
                              "configuration stores there: configstore\n")
    other = edge(tmp_path, "list", "statestore", "-d", str(resources))
    assert other.returncode == 1
    assert other.stderr == (
        f"edge config: component 'statestore' ({state}) is a state.sqlite, not a configuration "
        "store (configuration.local.file or configuration.sqlite)\n")
    no_home = edge(tmp_path, "list", "configstore")
    assert no_home.returncode == 1
    assert f"{tmp_path / 'home' / 'components'} does not exist" in no_home.stderr
