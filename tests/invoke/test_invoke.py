"""Service invocation through one and two real sidecars."""

from __future__ import annotations

import base64
import json
import socket

import httpx


def test_invoke_own_app_passes_everything_through(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("orders", app_port=app.port, wait="ready")
    with sidecar.client() as http:
        r = http.post("/v1.0/invoke/orders/method/neworder/a%2Fb?x=1&y=2",
                      content=b"\x00\x01raw", headers={"x-custom": "v", "content-type": "text/x"})
    assert r.status_code == 200
    seen = r.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/neworder/a%2Fb"
    assert seen["query"] == "x=1&y=2"
    assert seen["headers"]["x-custom"] == "v"
    assert seen["headers"]["content-type"] == "text/x"
    assert seen["headers"]["dapr-caller-app-id"] == "orders"
    assert base64.b64decode(seen["body"]) == b"\x00\x01raw"
    assert r.headers["x-app"] == "echo"


def test_invoke_returns_app_status_and_body(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("orders", app_port=app.port, wait="ready")
    with sidecar.client() as http:
        r = http.put("/v1.0/invoke/orders/method/status/418", content=b"teapot",
                     headers={"content-type": "text/plain"})
    assert r.status_code == 418
    assert r.content == b"teapot"


def test_invoke_between_two_sidecars_both_ways(spawn):
    app_a, app_b = spawn.app(), spawn.app()
    a = spawn.sidecar("a", app_port=app_a.port, wait="ready")
    b = spawn.sidecar("b", app_port=app_b.port, wait="ready")
    with a.client() as http:
        r = http.get("/v1.0/invoke/b/method/hello?q=1")
    assert r.status_code == 200, r.text
    assert r.json()["headers"]["dapr-caller-app-id"] == "a"
    assert r.json()["headers"]["dapr-callee-app-id"] == "b"
    assert r.json()["query"] == "q=1"
    with b.client() as http:
        r = http.delete("/v1.0/invoke/a/method/x")
    assert r.status_code == 200
    assert r.json()["method"] == "DELETE"
    assert r.json()["headers"]["dapr-caller-app-id"] == "b"


def test_dapr_app_id_header_routes_any_path(spawn):
    app_b = spawn.app()
    a = spawn.sidecar("a")
    spawn.sidecar("b", app_port=app_b.port, wait="ready")
    with a.client() as http:
        r = http.post("/neworder", json={"orderId": 1}, headers={"dapr-app-id": "b"})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/neworder"
    assert base64.b64decode(r.json()["body"]) == b'{"orderId":1}'
    assert "dapr-app-id" not in r.json()["headers"]


def test_unknown_app_id_is_a_dapr_error(spawn):
    a = spawn.sidecar("a")
    with a.client() as http:
        r = http.get("/v1.0/invoke/nobody/method/x")
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert "nobody" in r.json()["message"]


def test_app_down_is_a_dapr_error_and_sidecar_survives(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("orders", app_port=app.port, wait="ready")
    app.stop()
    with sidecar.client() as http:
        r = http.get("/v1.0/invoke/orders/method/x")
        assert r.status_code == 500
        assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"
        assert http.get("/v1.0/healthz/outbound").status_code == 204


def test_peer_killed_drops_out_of_resolution(spawn):
    app_b = spawn.app()
    a = spawn.sidecar("a")
    b = spawn.sidecar("b", app_port=app_b.port, wait="ready")
    with a.client() as http:
        assert http.get("/v1.0/invoke/b/method/x").status_code == 200
        b.kill()
        r = http.get("/v1.0/invoke/b/method/x")
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"


def test_large_body_and_namespace_suffix_across_sidecars(spawn):
    app_b = spawn.app()
    a = spawn.sidecar("a")
    spawn.sidecar("b", app_port=app_b.port, wait="ready")
    body = bytes(range(256)) * (3 * 1024 * 4)  # 3 MB, every byte value
    with a.client() as http:
        r = http.post("/v1.0/invoke/b.default/method/upload", content=body,
                      headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200, r.text[:300]
    assert base64.b64decode(r.json()["body"]) == body


def test_round_robin_over_instances_of_one_app_id(spawn):
    apps = [spawn.app(), spawn.app()]
    caller = spawn.sidecar("caller")
    for app in apps:
        spawn.sidecar("worker", app_port=app.port, wait="ready")
    with caller.client() as http:
        hosts = {http.get("/v1.0/invoke/worker/method/who").json()["headers"]["host"]
                 for _ in range(6)}
    assert hosts == {f"127.0.0.1:{app.port}" for app in apps}


def test_dot_segments_cannot_leave_the_method_path(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("orders", app_port=app.port, wait="ready")
    # Sent on a raw socket: HTTP clients would clean the path themselves.
    with socket.create_connection(("127.0.0.1", sidecar.http_port)) as sock:
        sock.sendall(b"GET /v1.0/invoke/orders/method/a/../../../secret HTTP/1.1\r\n"
                     b"Host: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["path"] == "/secret"


def test_internal_port_refuses_callers_without_the_home_secret(spawn):
    from edge.runtime.nameresolution import live_entries

    app = spawn.app()
    sidecar = spawn.sidecar("orders", app_port=app.port, wait="ready")
    entry = live_entries(spawn.workdir / "home" / "nameresolution.db", "orders")[0]
    url = f"http://127.0.0.1:{entry.internal_port}/v1.0-internal/invoke/x"
    with sidecar.client() as http:
        r = http.get(url)
        assert r.status_code == 401
        assert r.json()["errorCode"] == "ERR_API_TOKEN_INVALID"
        r = http.get(url, headers={"edge-internal-token": "guess"})
        assert r.status_code == 401
    secret = (spawn.workdir / "home" / "internal.key").read_text().strip()
    assert (spawn.workdir / "home" / "internal.key").stat().st_mode & 0o077 == 0
    r = httpx.get(url, headers={"edge-internal-token": secret})
    assert r.status_code == 200
    assert "edge-internal-token" not in r.json()["headers"]
