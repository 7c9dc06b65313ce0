"""secretstores.local.env: the sidecar's environment as a secret store, never
handing out the sidecar's own credentials."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness import Sidecar
from tests.runtime.helpers import component_doc, write_docs

TOKEN = "api-token-value"
ENV = {
    "EDGETEST_FOO": "foo",
    "EDGETEST_BAR": "bar=baz",
    "EDGETEST_DAPR_X": "allowed",  # blocked names are checked on the full variable name
    "DAPR_API_TOKEN": TOKEN,
    "APP_API_TOKEN": "app-token-value",
    "DAPR_PRIVATE": "dapr-private",
    "dapr_lower": "dapr-lower",
}
SIDECAR_SECRETS = {TOKEN, "app-token-value", "dapr-private", "dapr-lower"}


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    work = tmp_path_factory.mktemp("local-env")
    write_docs(
        work / "resources" / "env.yaml",
        component_doc("env", "secretstores.local.env"),
        component_doc("prefixed", "secretstores.local.env", {"prefix": "EDGETEST_"}),
        component_doc("daprprefixed", "secretstores.local.env", {"prefix": "DAPR_"}),
    )
    started = Sidecar(work, "env-app", work / "resources", env=ENV)
    yield started
    started.stop()


@pytest.fixture
def http(sidecar: Sidecar) -> Iterator[httpx.Client]:
    with sidecar.client(headers={"dapr-api-token": TOKEN}) as client:
        yield client


def test_get_reads_the_variable(http):
    r = http.get("/v1.0/secrets/env/EDGETEST_FOO")
    assert r.status_code == 200
    assert r.json() == {"EDGETEST_FOO": "foo"}


def test_unset_variable_is_empty_not_an_error(http):
    r = http.get("/v1.0/secrets/env/EDGETEST_UNSET")
    assert r.status_code == 200
    assert r.json() == {"EDGETEST_UNSET": ""}


def test_prefix_is_added_on_get_and_stripped_in_bulk(http):
    assert http.get("/v1.0/secrets/prefixed/BAR").json() == {"BAR": "bar=baz"}
    assert http.get("/v1.0/secrets/prefixed/DAPR_X").json() == {"DAPR_X": "allowed"}
    r = http.get("/v1.0/secrets/prefixed/bulk")
    assert r.status_code == 200
    assert r.json() == {"FOO": {"FOO": "foo"}, "BAR": {"BAR": "bar=baz"},
                        "DAPR_X": {"DAPR_X": "allowed"}}


@pytest.mark.parametrize(("store", "name"), [
    ("env", "DAPR_API_TOKEN"), ("env", "APP_API_TOKEN"), ("env", "DAPR_PRIVATE"),
    ("env", "dapr_lower"), ("env", "app_api_token"), ("daprprefixed", "API_TOKEN"),
    ("daprprefixed", "PRIVATE"),
])
def test_sidecar_credentials_are_never_exposed(http, store, name):
    r = http.get(f"/v1.0/secrets/{store}/{name}")
    assert r.status_code == 200
    assert r.json() == {name: ""}


def test_bulk_leaves_out_sidecar_credentials(http):
    r = http.get("/v1.0/secrets/env/bulk")
    assert r.status_code == 200
    bulk = r.json()
    assert bulk["EDGETEST_FOO"] == {"EDGETEST_FOO": "foo"}
    assert not [n for n in bulk if n.upper().startswith("DAPR_") or n.upper() == "APP_API_TOKEN"]
    values = {v for secret in bulk.values() for v in secret.values()}
    assert not values & SIDECAR_SECRETS
    assert http.get("/v1.0/secrets/daprprefixed/bulk").json() == {}


def test_secrets_need_the_api_token(sidecar):
    with sidecar.client() as anonymous:
        r = anonymous.get("/v1.0/secrets/env/EDGETEST_FOO")
    assert r.status_code == 401
    assert r.json()["errorCode"] == "ERR_API_TOKEN_INVALID"
