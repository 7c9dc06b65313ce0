"""secretstores.local.file through the secrets API of a real sidecar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.harness import Sidecar
from tests.runtime.helpers import component_doc, write_docs, write_json

SECRETS = {
    "redisPassword": "pw",
    "connectionStrings": {"sql": "sqlconn", "mysql": {"user": "u", "port": 3306}},
    "hosts": ["a", {"b": "c"}],
    "count": 5,
    "ratio": 2.5,
    "flag": True,
    "nothing": None,
    "db/password": "slashed",
}

FLAT = {
    "redisPassword": "pw",
    "connectionStrings:sql": "sqlconn",
    "connectionStrings:mysql:user": "u",
    "connectionStrings:mysql:port": "3306",
    "hosts:0": "a",
    "hosts:1:b": "c",
    "count": "5",
    "ratio": "2.5",
    "flag": "true",
    "nothing": "null",
    "db/password": "slashed",
}


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """One sidecar holding the same file three ways: flat, dotted, multi-valued."""
    work = tmp_path_factory.mktemp("local-file")
    secrets = write_json(work / "secrets.json", SECRETS)
    write_docs(
        work / "resources" / "stores.yaml",
        component_doc("flat", "secretstores.local.file", {"secretsFile": str(secrets)}),
        component_doc("dotted", "secretstores.local.file",
                      {"secretsFile": str(secrets), "nestedSeparator": "."}),
        component_doc("multi", "secretstores.local.file",
                      {"secretsFile": str(secrets), "multiValued": "true"}),
    )
    started = Sidecar(work, "secrets-app", work / "resources")
    yield started
    started.stop()


@pytest.fixture
def http(sidecar: Sidecar) -> Iterator[httpx.Client]:
    with sidecar.client() as client:
        yield client


@pytest.mark.parametrize(("name", "value"), sorted(FLAT.items()))
def test_flat_store_names_nested_keys_with_separator(http, name, value):
    r = http.get(f"/v1.0/secrets/flat/{quote(name, safe='')}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {name: value}


def test_slash_in_secret_name_may_be_percent_encoded(http):
    r = http.get("/v1.0/secrets/flat/db%2Fpassword")
    assert r.status_code == 200, r.text
    assert r.json() == {"db/password": "slashed"}


def test_flat_bulk_holds_every_flattened_secret(http):
    r = http.get("/v1.0/secrets/flat/bulk")
    assert r.status_code == 200, r.text
    assert r.json() == {name: {name: value} for name, value in FLAT.items()}


def test_parent_of_nested_keys_is_not_a_secret(http):
    r = http.get("/v1.0/secrets/flat/connectionStrings")
    assert r.status_code == 500
    assert r.json() == {
        "errorCode": "ERR_SECRET_GET",
        "message": "failed getting secret with key connectionStrings from secret store flat: "
                   "secret connectionStrings not found",
    }


def test_custom_nested_separator(http):
    assert http.get("/v1.0/secrets/dotted/connectionStrings.mysql.user").json() == {
        "connectionStrings.mysql.user": "u"}
    assert http.get("/v1.0/secrets/dotted/hosts.1.b").json() == {"hosts.1.b": "c"}
    assert http.get("/v1.0/secrets/dotted/connectionStrings:sql").status_code == 500


def test_multi_valued_secret_holds_its_nested_keys(http):
    r = http.get("/v1.0/secrets/multi/connectionStrings")
    assert r.status_code == 200, r.text
    assert r.json() == {"sql": "sqlconn", "mysql:user": "u", "mysql:port": "3306"}
    assert http.get("/v1.0/secrets/multi/hosts").json() == {"0": "a", "1:b": "c"}
    assert http.get("/v1.0/secrets/multi/redisPassword").json() == {"redisPassword": "pw"}
    assert http.get("/v1.0/secrets/multi/count").json() == {"count": "5"}


def test_multi_valued_has_no_flattened_names(http):
    r = http.get("/v1.0/secrets/multi/connectionStrings:sql")
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_SECRET_GET"


def test_multi_valued_bulk(http):
    bulk = http.get("/v1.0/secrets/multi/bulk").json()
    assert set(bulk) == set(SECRETS)
    assert bulk["connectionStrings"]["mysql:port"] == "3306"
    assert bulk["flag"] == {"flag": "true"}


def test_metadata_query_parameters_are_accepted(http):
    r = http.get("/v1.0/secrets/flat/redisPassword",
                 params={"metadata.version_id": "2", "metadata.namespace": "x"})
    assert r.status_code == 200
    assert r.json() == {"redisPassword": "pw"}
    assert http.get("/v1.0/secrets/flat/bulk", params={"metadata.a": "b"}).status_code == 200


@pytest.mark.parametrize("path", ["/v1.0/secrets/nope/redisPassword", "/v1.0/secrets/nope/bulk"])
def test_unknown_store(http, path):
    r = http.get(path)
    assert r.status_code == 401
    assert r.json() == {"errorCode": "ERR_SECRET_STORE_NOT_FOUND",
                        "message": "failed finding secret store with key nope"}


def test_multi_valued_store_reports_its_capability(http):
    components = {c["name"]: c for c in http.get("/v1.0/metadata").json()["components"]}
    assert components["multi"]["capabilities"] == ["MULTIPLE_KEY_VALUES_PER_SECRET"]
    assert "capabilities" not in components["flat"]
    assert components["flat"]["type"] == "secretstores.local.file"


def test_no_secret_store_configured(spawn):
    sidecar = spawn.sidecar("bare")
    with sidecar.client() as http:
        for path in ("/v1.0/secrets/any/key", "/v1.0/secrets/any/bulk"):
            r = http.get(path)
            assert r.status_code == 500
            assert r.json() == {"errorCode": "ERR_SECRET_STORES_NOT_CONFIGURED",
                                "message": "secret store is not configured"}


def test_secrets_file_relative_to_sidecar_working_folder(spawn, tmp_path: Path):
    write_json(tmp_path / "conf" / "secrets.json", {"k": "v"})
    write_docs(tmp_path / "resources" / "s.yaml", component_doc(
        "rel", "secretstores.local.file", {"secretsFile": "conf/secrets.json"}))
    sidecar = spawn.sidecar("rel-app", tmp_path / "resources")
    with sidecar.client() as http:
        assert http.get("/v1.0/secrets/rel/k").json() == {"k": "v"}
