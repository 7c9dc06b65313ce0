"""GET /v1.0/metadata and PUT /v1.0/metadata/{key}, shaped as daprd's."""

from __future__ import annotations

from pathlib import Path

from edge import __version__
from tests.harness import free_port
from tests.runtime.helpers import component_doc, write_docs


def test_shape_without_app(spawn, resources: Path):
    write_docs(resources / "env.yaml", component_doc("env", "secretstores.local.env"))
    sidecar = spawn.sidecar("meta", resources)
    with sidecar.client() as http:
        r = http.get("/v1.0/metadata")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["id"] == "meta"
    assert body["runtimeVersion"] == __version__
    assert body["extended"] == {"daprRuntimeVersion": __version__}
    assert body["appConnectionProperties"] == {"protocol": "http", "channelAddress": "127.0.0.1"}
    # daprd leaves empty lists out rather than sending them empty.
    for absent in ("enabledFeatures", "actors", "subscriptions", "httpEndpoints"):
        assert absent not in body
    components = {c["name"]: c for c in body["components"]}
    assert components["env"] == {"name": "env", "type": "secretstores.local.env",
                                 "version": "v1"}
    sqlite = components["statestore"]
    assert (sqlite["type"], sqlite["version"]) == ("state.sqlite", "v1")
    assert {"ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"} <= set(sqlite["capabilities"])
    assert sqlite["capabilities"][-1] == "ACTOR"


def test_put_attribute_shows_under_extended(spawn):
    sidecar = spawn.sidecar("meta")
    with sidecar.client() as http:
        r = http.put("/v1.0/metadata/appCommand", content="python app.py --flag",
                     headers={"content-type": "text/plain"})
        assert r.status_code == 204
        assert r.content == b""
        assert http.put("/v1.0/metadata/cliPID", content="1234").status_code == 204
        assert http.put("/v1.0/metadata/cliPID", content="5678").status_code == 204
        assert http.put("/v1.0/metadata/empty", content=b"").status_code == 204
        assert http.put("/v1.0/metadata/bytes", content=b"\xff\xfeok",
                        headers={"content-type": "text/plain; charset=bogus"}).status_code == 204
        # The runtime's own version cannot be overwritten by a client.
        assert http.put("/v1.0/metadata/daprRuntimeVersion", content="9.9").status_code == 204
        extended = http.get("/v1.0/metadata").json()["extended"]
    assert extended["appCommand"] == "python app.py --flag"
    assert extended["cliPID"] == "5678"
    assert extended["empty"] == ""
    assert extended["bytes"].endswith("ok")
    assert extended["daprRuntimeVersion"] == __version__


def test_app_connection_properties_with_app_port(spawn):
    port = free_port()
    sidecar = spawn.sidecar("withapp", app_port=port)
    limited = spawn.sidecar("limited", app_port=port, args=["--app-max-concurrency", "3"])
    with sidecar.client() as http:
        props = http.get("/v1.0/metadata").json()["appConnectionProperties"]
    assert props == {"port": port, "protocol": "http", "channelAddress": "127.0.0.1"}
    with limited.client() as http:
        props = http.get("/v1.0/metadata").json()["appConnectionProperties"]
    assert props == {"port": port, "protocol": "http", "channelAddress": "127.0.0.1",
                     "maxConcurrency": 3}


def test_only_get_and_put_are_routed(spawn):
    sidecar = spawn.sidecar("meta")
    with sidecar.client() as http:
        for method, path in (("POST", "/v1.0/metadata"), ("DELETE", "/v1.0/metadata/x"),
                             ("GET", "/v1.0/metadata/x")):
            r = http.request(method, path)
            assert r.status_code == 404, (method, path)
            assert set(r.json()) == {"errorCode", "message"}
