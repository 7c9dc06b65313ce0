"""The Configuration file given with --config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.helpers import failed_start, write_docs


def _configuration(features: object) -> dict[str, object]:
    return {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
            "metadata": {"name": "appconfig"}, "spec": {"features": features}}


def test_enabled_features_show_in_metadata(spawn, tmp_path: Path):
    config = write_docs(tmp_path / "config.yaml", _configuration([
        {"name": "SchedulerReminders", "enabled": True},
        {"name": "Disabled", "enabled": False},
        {"name": "NoFlag"},  # Dapr's `enabled` defaults to false
        {"name": "Quoted", "enabled": "true"},
    ]))
    sidecar = spawn.sidecar("configured", args=["--config", str(config)])
    with sidecar.client() as http:
        metadata = http.get("/v1.0/metadata").json()
    assert metadata["enabledFeatures"] == ["SchedulerReminders", "Quoted"]


def test_configuration_among_other_documents(spawn, tmp_path: Path):
    config = write_docs(tmp_path / "config.yaml",
                        {"apiVersion": "dapr.io/v1alpha1", "kind": "Component",
                         "metadata": {"name": "x"}, "spec": {"type": "state.in-memory"}},
                        _configuration([{"name": "A", "enabled": True}]))
    sidecar = spawn.sidecar("configured", args=["--config", str(config)])
    with sidecar.client() as http:
        metadata = http.get("/v1.0/metadata").json()
    assert metadata["enabledFeatures"] == ["A"]
    assert "components" not in metadata


def test_default_config_in_edge_home_is_used(spawn, tmp_path: Path):
    write_docs(tmp_path / "home" / "config.yaml", _configuration([{"name": "B", "enabled": True}]))
    sidecar = spawn.sidecar("homeconfig")
    with sidecar.client() as http:
        assert http.get("/v1.0/metadata").json()["enabledFeatures"] == ["B"]


@pytest.mark.parametrize(("text", "words"), [
    (None, ["cannot read"]),
    ("kind: Configuration\nspec: [unclosed\n", ["not valid YAML"]),
    ("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n",
     ["no document of kind Configuration"]),
    ("kind: Configuration\nspec: [1, 2]\n", ["spec"]),
    ("kind: Configuration\nspec: {features: [{enabled: true}]}\n", ["spec.features[0]"]),
    ("kind: Configuration\nspec: {features: SchedulerReminders}\n", ["spec.features"]),
], ids=["missing file", "invalid yaml", "no configuration", "spec not a mapping",
        "feature without name", "features not a list"])
def test_bad_config_stops_the_sidecar_naming_the_file(spawn, tmp_path: Path, text, words):
    config = tmp_path / "config.yaml"
    if text is not None:
        config.write_text(text)
    output = failed_start(spawn, None, "--config", str(config))
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert f"file {config}" in line
    for word in words:
        assert word in line
