"""API tokens: DAPR_API_TOKEN guards every API but health; APP_API_TOKEN is
what the app receives; the caller's token never reaches any app."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness import App, Sidecar
from tests.runtime.helpers import component_doc, write_docs

TOKEN = "caller-token"
APP_TOKEN = "app-token"

# Every kind of API, plus paths that would reach the catch-all invocation route
# if the health exemption matched loosely.
GUARDED = [
    ("GET", "/v1.0/metadata"),
    ("PUT", "/v1.0/metadata/k"),
    ("GET", "/v1.0/state/statestore/k"),
    ("POST", "/v1.0/state/statestore"),
    ("GET", "/v1.0/secrets/any/k"),
    ("GET", "/v1.0/invoke/guarded/method/x"),
    ("POST", "/neworder"),
    ("POST", "/v1.0/shutdown"),
    ("GET", "/v1.0/unknown"),
    ("GET", "/v1.0/healthzz"),
    ("GET", "/v1.0/healthz/"),
    ("GET", "/v1.0/healthz/outbound/x"),
    ("POST", "/v1.0/healthz"),
    ("DELETE", "/v1.0/healthz/outbound"),
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """A sidecar with both tokens set, its own app and a state store."""
    work = tmp_path_factory.mktemp("token")
    write_docs(work / "resources" / "state.yaml", component_doc(
        "statestore", "state.sqlite", {"connectionString": str(work / "state.db")}))
    app = App(work, "echo_app.py")
    sidecar = Sidecar(work, "guarded", work / "resources", app_port=app.port, wait="ready",
                      env={"DAPR_API_TOKEN": TOKEN, "APP_API_TOKEN": APP_TOKEN})
    yield sidecar
    sidecar.stop()
    app.stop()


def test_every_api_needs_the_token(guarded):
    sidecar = guarded
    for token in (None, "wrong", TOKEN + "x", ""):
        headers = {"dapr-app-id": "guarded"}
        if token is not None:
            headers["dapr-api-token"] = token
        with sidecar.client(headers=headers) as http:
            for method, path in GUARDED:
                r = http.request(method, path, content=b"[]")
                assert r.status_code == 401, (token, method, path, r.text)
                assert r.json()["errorCode"] == "ERR_API_TOKEN_INVALID"
    with sidecar.client() as http:
        assert http.get("/v1.0/healthz").status_code == 204  # the shutdown was refused


def test_health_is_exempt(guarded):
    sidecar = guarded
    with sidecar.client() as http:
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/healthz/outbound").status_code == 204


def test_right_token_opens_the_api_and_app_gets_app_token(guarded):
    sidecar = guarded
    with sidecar.client(headers={"dapr-api-token": TOKEN}) as http:
        assert http.get("/v1.0/metadata").status_code == 200
        saved = http.post("/v1.0/state/statestore", json=[{"key": "k", "value": 1}])
        assert saved.status_code == 204
        r = http.post("/v1.0/invoke/guarded/method/hello", content=b"x")
        assert r.status_code == 200, r.text
        assert r.json()["headers"]["dapr-api-token"] == APP_TOKEN
        r = http.post("/hello", headers={"dapr-app-id": "guarded"})
        assert r.json()["headers"]["dapr-api-token"] == APP_TOKEN


def test_callers_token_is_not_forwarded_without_app_token(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("open", app_port=app.port, wait="ready")
    with sidecar.client(headers={"dapr-api-token": "from-the-caller"}) as http:
        r = http.get("/v1.0/invoke/open/method/hello")
    assert r.status_code == 200, r.text
    assert "dapr-api-token" not in r.json()["headers"]


def test_token_is_not_forwarded_to_another_sidecars_app(spawn):
    app = spawn.app()
    caller = spawn.sidecar("caller", env={"DAPR_API_TOKEN": TOKEN})
    spawn.sidecar("callee", app_port=app.port, wait="ready", env={"APP_API_TOKEN": APP_TOKEN})
    with caller.client(headers={"dapr-api-token": TOKEN}) as http:
        r = http.get("/v1.0/invoke/callee/method/hello")
    assert r.status_code == 200, r.text
    assert r.json()["headers"]["dapr-api-token"] == APP_TOKEN
    assert TOKEN not in str(r.json())


def test_non_ascii_token_header_is_refused_not_crashed(guarded):
    sidecar = guarded
    r = httpx.get(sidecar.url + "/v1.0/metadata", headers={"dapr-api-token": b"\xff\xfe"})
    assert r.status_code == 401
    assert r.json()["errorCode"] == "ERR_API_TOKEN_INVALID"
