"""What the sidecar writes to its log: JSON lines with --log-as-json, and API
calls with --enable-api-logging, never their bodies or tokens."""

from __future__ import annotations

import json
import socket

from edge import __version__

TOKEN = "tok-never-logged-1234"
BODY = "body-never-logged-5678"
DAPR_FIELDS = {"time", "level", "msg", "scope", "type", "ver", "app_id", "instance"}


def test_log_as_json_lines(spawn):
    sidecar = spawn.sidecar("jsonlog", args=["--log-as-json", "--enable-api-logging"])
    with sidecar.client() as http:
        assert http.get("/v1.0/metadata").status_code == 200
    # A malformed request must not break the format with a traceback.
    with socket.create_connection(("127.0.0.1", sidecar.http_port)) as raw:
        raw.sendall(b"GET /v1.0/metadata HTTP/1.1\r\nx-big: " + b"a" * 70000 + b"\r\n\r\n")
        raw.recv(1024)
    assert sidecar.stop() == 0
    lines = [line for line in sidecar.output().splitlines() if line.strip()]
    assert len(lines) >= 4
    for line in lines:
        entry = json.loads(line)
        assert DAPR_FIELDS <= set(entry), line
        assert entry["app_id"] == "jsonlog"
        assert entry["ver"] == __version__
        assert entry["type"] == "log"
        assert entry["level"] in {"debug", "info", "warning", "error", "fatal"}
        assert entry["scope"].startswith("dapr.")
        assert entry["time"].endswith("Z")
    assert any("/v1.0/metadata" in json.loads(line)["msg"] for line in lines)


def test_api_logging_has_method_template_status_but_no_body_or_token(spawn):
    sidecar = spawn.sidecar("apilog", args=["--enable-api-logging"],
                            env={"DAPR_API_TOKEN": TOKEN})
    with sidecar.client(headers={"dapr-api-token": TOKEN}) as http:
        assert http.put("/v1.0/metadata/secretkey", content=BODY).status_code == 204
        assert http.get("/v1.0/metadata").status_code == 200
        assert http.get("/v1.0/secrets/store/name").status_code == 500
    with sidecar.client(headers={"dapr-api-token": "wrong-" + TOKEN}) as http:
        assert http.get("/v1.0/metadata").status_code == 401
    sidecar.stop()
    output = sidecar.output()
    assert "PUT /v1.0/metadata/{key} -> 204" in output
    assert "GET /v1.0/metadata -> 200" in output
    assert "GET /v1.0/secrets/{store}/{name} -> 500" in output
    assert "GET /v1.0/metadata -> 401" in output
    assert BODY not in output
    assert TOKEN not in output
    assert "secretkey" not in output


def test_no_api_logging_by_default(spawn):
    sidecar = spawn.sidecar("quiet")
    with sidecar.client() as http:
        http.get("/v1.0/metadata")
    sidecar.stop()
    assert "/v1.0/metadata" not in sidecar.output()
