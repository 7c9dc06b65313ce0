"""Loading resource folders: a sidecar with a bad component refuses to start
and says which file, component and field to fix; good folders load whatever
else they hold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.helpers import component_doc, failed_start, write_docs, write_json

SQLITE = "state.sqlite"


def _sqlite(tmp: Path, name: str = "statestore", meta: dict[str, str] | None = None,
            **extra: Any) -> dict[str, Any]:
    return component_doc(name, SQLITE, {"connectionString": str(tmp / f"{name}.db"),
                                        **(meta or {})}, **extra)


def _unknown_type(tmp: Path) -> dict[str, Any]:
    return component_doc("cache", "state.redis", {"redisHost": "localhost:6379"})


def _wrong_api_version(tmp: Path) -> dict[str, Any]:
    return {**_sqlite(tmp), "apiVersion": "dapr.io/v2"}


def _unsupported_version(tmp: Path) -> dict[str, Any]:
    return _sqlite(tmp, version="v2")


def _missing_connection_string(tmp: Path) -> dict[str, Any]:
    return component_doc("statestore", SQLITE, {"tableName": "state"})


def _bad_duration(tmp: Path) -> dict[str, Any]:
    return _sqlite(tmp, meta={"timeout": "soon"})


def _bad_init_timeout(tmp: Path) -> dict[str, Any]:
    return _sqlite(tmp, initTimeout="forever")


def _infinite_duration(tmp: Path) -> dict[str, Any]:
    return _sqlite(tmp, meta={"busyTimeout": "inf"})


def _bad_bool(tmp: Path) -> dict[str, Any]:
    return component_doc("files", "secretstores.local.file",
                         {"secretsFile": str(write_json(tmp / "s.json", {})),
                          "multiValued": "maybe"})


def _missing_secrets_file(tmp: Path) -> dict[str, Any]:
    return component_doc("files", "secretstores.local.file",
                         {"secretsFile": str(tmp / "absent.json")})


def _secrets_file_not_json(tmp: Path) -> dict[str, Any]:
    (tmp / "s.json").write_text("{not json")
    return component_doc("files", "secretstores.local.file", {"secretsFile": str(tmp / "s.json")})


def _env_ref(variable: str) -> Callable[[Path], dict[str, Any]]:
    def make(tmp: Path) -> dict[str, Any]:
        doc = component_doc("statestore", SQLITE)
        doc["spec"]["metadata"] = [{"name": "connectionString", "envRef": variable}]
        return doc

    return make


# (case, document factory, component, field, words of the reason)
BAD_COMPONENTS = [
    ("unknown type", _unknown_type, "cache", "spec.type",
     ["state.redis", "supported types", "state.sqlite", "secretstores.local.file"]),
    ("wrong apiVersion", _wrong_api_version, "statestore", "apiVersion", ["dapr.io/v1alpha1"]),
    ("unsupported version", _unsupported_version, "statestore", "spec.version", ["v2"]),
    ("missing required metadata", _missing_connection_string, "statestore", "connectionString",
     ["required"]),
    ("bad duration", _bad_duration, "statestore", "timeout", ["soon", "duration"]),
    ("bad initTimeout", _bad_init_timeout, "statestore", "spec.initTimeout", ["forever"]),
    ("infinite duration", _infinite_duration, "statestore", "busyTimeout", ["inf"]),
    ("bad boolean", _bad_bool, "files", "multiValued", ["maybe", "boolean"]),
    ("missing secrets file", _missing_secrets_file, "files", "secretsFile", ["absent.json"]),
    ("secrets file not JSON", _secrets_file_not_json, "files", "secretsFile", ["not valid JSON"]),
    ("envRef unset", _env_ref("EDGETEST_NEVER_SET"), "statestore", "connectionString",
     ["EDGETEST_NEVER_SET", "not set"]),
    ("envRef to sidecar token", _env_ref("DAPR_API_TOKEN"), "statestore", "connectionString",
     ["DAPR_API_TOKEN", "not allowed"]),
]


@pytest.mark.parametrize(("case", "make", "component", "field", "words"), BAD_COMPONENTS,
                         ids=[case[0] for case in BAD_COMPONENTS])
def test_bad_component_stops_the_sidecar_naming_file_component_field(
        spawn, tmp_path: Path, case, make, component, field, words):
    path = write_docs(tmp_path / "resources" / "component.yaml", make(tmp_path))
    output = failed_start(spawn, tmp_path / "resources", env={"DAPR_API_TOKEN": "t"})
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert f"file {path}" in line
    assert f"component '{component}'" in line
    assert f"field '{field}'" in line
    for word in words:
        assert word in line


def test_duplicate_name_across_two_files(spawn, tmp_path: Path):
    first = write_docs(tmp_path / "resources" / "a.yaml", _sqlite(tmp_path))
    second = write_docs(tmp_path / "resources" / "b.yml",
                        component_doc("statestore", "state.in-memory"))
    output = failed_start(spawn, tmp_path / "resources")
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert str(first) in line and str(second) in line
    assert "'statestore'" in line and "duplicate" in line


@pytest.mark.parametrize(("text", "words"), [
    ("apiVersion: dapr.io/v1alpha1\nkind: Component\nspec: [unclosed\n", ["not valid YAML"]),
    ("- just\n- a list\n", ["not a mapping"]),
    ("kind: Component\nmetadata: {name: x}\nspec: {type: state.in-memory}\n",
     ["apiVersion", "'x'"]),
    ("apiVersion: dapr.io/v1alpha1\nkind: Component\nspec: {type: state.in-memory}\n",
     ["metadata.name"]),
    ("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n", ["spec"]),
    ("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n"
     "spec: {type: state.in-memory, metadata: {a: b}}\n", ["spec.metadata", "list"]),
], ids=["invalid yaml", "not a mapping", "no apiVersion", "no name", "no spec",
        "metadata not a list"])
def test_unreadable_resource_file_stops_the_sidecar(spawn, tmp_path: Path, text, words):
    path = tmp_path / "resources" / "broken.yaml"
    path.parent.mkdir()
    path.write_text(text)
    output = failed_start(spawn, tmp_path / "resources")
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert f"file {path}" in line
    for word in words:
        assert word in line


def test_binary_resource_file_stops_the_sidecar(spawn, tmp_path: Path):
    path = tmp_path / "resources" / "binary.yaml"
    path.parent.mkdir()
    path.write_bytes(b"\xff\xfe\x00garbage")
    output = failed_start(spawn, tmp_path / "resources")
    assert f"file {path}" in output
    assert "Traceback" not in output


def test_missing_resources_path_stops_the_sidecar(spawn, tmp_path: Path):
    output = failed_start(spawn, tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in output


def test_ignore_errors_starts_without_that_component(spawn, tmp_path: Path):
    broken = component_doc("cache", "state.redis", ignoreErrors=True)
    write_docs(tmp_path / "resources" / "all.yaml", broken, _sqlite(tmp_path))
    sidecar = spawn.sidecar("ignoring", tmp_path / "resources")
    with sidecar.client() as http:
        names = [c["name"] for c in http.get("/v1.0/metadata").json()["components"]]
    assert names == ["statestore"]
    skipped = [x for x in sidecar.output().splitlines() if "cache" in x and "ignoreErrors" in x]
    assert skipped, sidecar.output()


def test_scopes_leave_out_components_of_other_apps(spawn, tmp_path: Path):
    write_docs(tmp_path / "resources" / "scoped.yaml",
               _sqlite(tmp_path, "theirs", scopes=["other-app"]),
               _sqlite(tmp_path, "ours", scopes=["other-app", "scoped-app"]),
               _sqlite(tmp_path, "everyone"))
    sidecar = spawn.sidecar("scoped-app", tmp_path / "resources")
    with sidecar.client() as http:
        names = {c["name"] for c in http.get("/v1.0/metadata").json()["components"]}
        assert http.get("/v1.0/state/theirs/k").status_code == 400
    assert names == {"ours", "everyone"}
    assert not (tmp_path / "theirs.db").exists()
    skipped = [x for x in sidecar.output().splitlines() if "theirs" in x and "scopes" in x]
    assert skipped, sidecar.output()


def test_folder_with_several_documents_yml_and_other_kinds(spawn, tmp_path: Path):
    resources = tmp_path / "resources"
    env_db = tmp_path / "from-env.db"
    env_ref = component_doc("fromenv", SQLITE)
    env_ref["spec"]["metadata"] = [{"name": "connectionString", "envRef": "EDGETEST_DB"}]
    write_docs(
        resources / "everything.yml",
        {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
         "metadata": {"name": "cfg"}, "spec": {"features": [{"name": "X", "enabled": True}]}},
        component_doc("cache", "state.in-memory", initTimeout="0s"),  # 0 = the default
        {"apiVersion": "dapr.io/v2alpha1", "kind": "Subscription", "metadata": {"name": "sub"},
         "spec": {"topic": "t", "routes": {"default": "/t"}, "pubsubname": "pubsub"}},
        {"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency", "metadata": {"name": "res"},
         "spec": {"policies": {"retries": {"r": {"policy": "constant", "duration": "1s"}}}}},
        env_ref,
    )
    # As in the Dapr quickstarts: a resiliency file with no apiVersion or kind at all.
    (resources / "resiliency.yaml").write_text(
        "spec:\n  policies:\n    retries:\n      DefaultRetryPolicy: {policy: constant}\n")
    (resources / "README.md").write_text("# not a resource\n")
    (resources / "empty.yaml").write_text("---\n---\n")
    sidecar = spawn.sidecar("mixed", resources, env={"EDGETEST_DB": str(env_db)})
    with sidecar.client() as http:
        metadata = http.get("/v1.0/metadata").json()
        assert http.post("/v1.0/state/fromenv", json=[{"key": "k", "value": 1}]).status_code == 204
    assert sorted(c["name"] for c in metadata["components"]) == ["cache", "fromenv"]
    # A Configuration among the resources is not the --config one.
    assert "enabledFeatures" not in metadata
    assert env_db.is_file()


def test_several_resources_paths(spawn, tmp_path: Path):
    write_docs(tmp_path / "one" / "a.yaml", component_doc("a", "state.in-memory"))
    single = write_docs(tmp_path / "b.yaml", component_doc("b", "state.in-memory"))
    sidecar = spawn.sidecar("paths", tmp_path / "one", args=["--resources-path", str(single)])
    with sidecar.client() as http:
        names = {c["name"] for c in http.get("/v1.0/metadata").json()["components"]}
    assert names == {"a", "b"}
