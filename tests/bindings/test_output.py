"""Output bindings through the API: bindings.http against a real local
endpoint, bindings.localstorage on disk, and the API's errors."""

from __future__ import annotations

import base64
import json
import uuid

import pytest


def invoke(shared, name, operation, data=None, metadata=None, method="post"):
    body = {"operation": operation, "metadata": metadata or {}}
    if data is not None:
        body["data"] = data
    return shared.http.request(method.upper(), f"/v1.0/bindings/{name}", json=body)


def ok(reply, status=200):
    assert reply.status_code == status, reply.text
    return reply


def error(reply, status=500, code="ERR_INVOKE_OUTPUT_BINDING"):
    assert reply.status_code == status, reply.text
    assert reply.json()["errorCode"] == code
    return reply.json()["message"]


# -- bindings.http

@pytest.mark.parametrize("operation,method", [
    ("get", "GET"), ("post", "POST"), ("create", "POST"), ("put", "PUT"), ("patch", "PATCH"),
    ("delete", "DELETE"), ("options", "OPTIONS"), ("trace", "TRACE")])
def test_http_operations_are_methods(shared, operation, method):
    reply = ok(invoke(shared, "web", operation, {"n": 1}, {"path": "/things/7?q=1"}))
    echo = reply.json()
    assert echo["method"] == method
    assert echo["path"] == "/api/things/7?q=1"
    assert echo["body"] == '{"n":1}'
    assert echo["headers"]["content-type"] == "application/json; charset=utf-8"


def test_http_status_and_headers_come_back_as_metadata(shared):
    reply = ok(invoke(shared, "web", "get"))
    assert reply.headers["metadata.statusCode"] == "200"
    assert reply.headers["metadata.status"] == "200 OK"
    assert reply.headers["metadata.X-Reply"] == "yes"
    assert reply.json()["path"] == "/api"


def test_http_head_has_no_body(shared):
    reply = ok(invoke(shared, "web", "head", method="put"))
    assert reply.content == b""
    assert reply.headers["metadata.statusCode"] == "200"


def test_http_capitalised_metadata_is_sent_as_headers(shared):
    echo = ok(invoke(shared, "web", "post", "text", {"X-Token": "abc", "lower": "no",
                                                      "Content-Type": "text/plain"})).json()
    assert echo["headers"]["x-token"] == "abc"
    assert echo["headers"]["content-type"] == "text/plain"
    assert "lower" not in echo["headers"]
    assert echo["body"] == '"text"'  # data is passed on JSON-encoded, as by Dapr


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_statuses_are_errors(shared, status):
    message = error(invoke(shared, "web", "get", metadata={"path": f"/status/{status}"}))
    assert message == f"error invoking output binding web: received status code {status}"


# -- bindings.localstorage

def test_localstorage_round_trip(shared):
    name = f"dir-{uuid.uuid4().hex[:8]}/a.txt"
    created = ok(invoke(shared, "files", "create", "Hello World", {"fileName": name}))
    assert created.json() == {"fileName": name}
    assert (shared.root / name).read_text() == "Hello World"
    assert ok(invoke(shared, "files", "get", metadata={"fileName": name})).content == \
        b"Hello World"
    folder = name.split("/")[0]
    listed = ok(invoke(shared, "files", "list", metadata={"fileName": folder})).json()
    assert listed == [name]
    ok(invoke(shared, "files", "delete", metadata={"fileName": name}), 204)
    assert not (shared.root / name).exists()
    message = error(invoke(shared, "files", "get", metadata={"fileName": name}))
    assert "file not found" in message


def test_localstorage_generates_a_name_and_decodes_base64(shared):
    raw = bytes(range(256))
    created = ok(invoke(shared, "files", "create", base64.b64encode(raw).decode(),
                        {"decodeBase64": "true"})).json()
    assert str(uuid.UUID(created["fileName"])) == created["fileName"]
    assert (shared.root / created["fileName"]).read_bytes() == raw
    json_data = ok(invoke(shared, "files", "create", {"a": [1]})).json()
    assert json.loads((shared.root / json_data["fileName"]).read_text()) == {"a": [1]}


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "/tmp/x"])
@pytest.mark.parametrize("operation", ["create", "get", "delete", "list"])
def test_localstorage_refuses_names_outside_the_root(shared, name, operation):
    message = error(invoke(shared, "files", operation, "no", {"fileName": name}))
    assert "outside rootPath" in message
    assert not (shared.root.parent / "x").exists()


# -- the API

def test_unknown_binding(shared):
    message = error(invoke(shared, "nope", "create"))
    assert message == "error invoking output binding nope: couldn't find output binding nope"


def test_unsupported_operation_names_the_supported_ones(shared):
    message = error(invoke(shared, "files", "explode"))
    assert message == ("error invoking output binding files: binding files does not support "
                       "operation explode. supported operations:create get list delete")
    assert "operation field is missing" in error(invoke(shared, "files", ""))


@pytest.mark.parametrize("body", [b"{", b"[1]", b'{"metadata": {"a": 1}}',
                                  b'{"operation": 5}', b"\xff"])
def test_malformed_bodies(shared, body):
    reply = shared.http.post("/v1.0/bindings/files", content=body)
    error(reply, 400, "ERR_MALFORMED_REQUEST")
    assert shared.http.get("/v1.0/healthz").status_code == 204


def test_direction_is_honoured(shared):
    # Configured as input only: not an output binding, whatever the type can do.
    message = error(invoke(shared, "infiles", "list"))
    assert "couldn't find output binding infiles" in message
    assert "couldn't find output binding ticks" in error(invoke(shared, "ticks", "create"))
    components = {c["name"]: c for c in shared.http.get("/v1.0/metadata").json()["components"]}
    assert components["files"]["capabilities"] == ["OUTPUT_BINDING"]
    assert components["web"]["capabilities"] == ["OUTPUT_BINDING"]
    assert components["ticks"]["capabilities"] == ["INPUT_BINDING"]
    assert "capabilities" not in components["infiles"]
    assert components["ticks"]["type"] == "bindings.cron"
