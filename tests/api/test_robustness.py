"""Bad input never takes the sidecar down: every refusal is an answer, and the
sidecar keeps serving afterwards."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.harness import App, Sidecar
from tests.runtime.helpers import component_doc, write_docs, write_json

MB = 1024 * 1024
APP_ID = "sturdy"


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """A sidecar with a 1 MB body limit, a state store, a secret store and an app."""
    work = tmp_path_factory.mktemp("robust")
    secrets = write_json(work / "secrets.json", {"k": "v"})
    write_docs(work / "resources" / "all.yaml",
               component_doc("statestore", "state.sqlite",
                             {"connectionString": str(work / "state.db")}),
               component_doc("files", "secretstores.local.file", {"secretsFile": str(secrets)}))
    app = App(work, "echo_app.py")
    started = Sidecar(work, APP_ID, work / "resources", app_port=app.port, wait="ready",
                      args=["--dapr-http-max-request-size", "1"])
    yield started
    started.stop()
    app.stop()


@pytest.fixture
def http(sidecar: Sidecar) -> Iterator[httpx.Client]:
    with sidecar.client() as client:
        yield client
    assert_still_serving(sidecar)


def assert_still_serving(sidecar: Sidecar) -> None:
    assert sidecar.proc.poll() is None, sidecar.output()
    assert httpx.get(sidecar.url + "/v1.0/healthz", timeout=5).status_code == 204


def assert_dapr_error(response: httpx.Response, status: int | None = None) -> dict[str, str]:
    if status is not None:
        assert response.status_code == status, response.text
    assert response.status_code >= 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"errorCode", "message"} <= set(body), body
    assert body["errorCode"] != "ERR_INTERNAL", body
    return body


def raw_exchange(port: int, data: bytes, timeout: float = 3.0, hang_up: bool = False) -> bytes:
    """Send bytes as they are; whatever comes back until the server closes.
    With hang_up the client stops sending right away, as a dropped peer does."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(data)
            if hang_up:
                conn.shutdown(socket.SHUT_WR)
            while chunk := conn.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
    return received


OVERSIZED = [
    ("PUT", "/v1.0/metadata/big"),
    ("POST", "/v1.0/state/statestore"),
    ("POST", "/v1.0/state/statestore/bulk"),
    ("POST", "/v1.0/state/statestore/transaction"),
    ("POST", "/v1.0-alpha1/state/statestore/query"),
    ("POST", f"/v1.0/invoke/{APP_ID}/method/upload"),
]


@pytest.mark.parametrize(("method", "path"), OVERSIZED)
def test_body_over_the_limit_is_413(http, method, path):
    r = http.request(method, path, content=b"[" + b" " * MB + b"]")
    body = assert_dapr_error(r, 413)
    assert body["errorCode"] == "ERR_BODY_TOO_LARGE"


def test_chunked_body_over_the_limit_is_413(http):
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * (MB // 10)

    r = http.put("/v1.0/metadata/big", content=chunks())
    assert assert_dapr_error(r, 413)["errorCode"] == "ERR_BODY_TOO_LARGE"


def test_body_just_under_the_limit_is_accepted(http):
    assert http.put("/v1.0/metadata/big", content=b"x" * (MB - 1024)).status_code == 204
    r = http.post(f"/v1.0/invoke/{APP_ID}/method/upload", content=b"y" * (MB - 1024))
    assert r.status_code == 200


@pytest.mark.parametrize("body", [
    b"{bad", b'[{"key":', b"null", b'"text"', b"[1, 2]", b"{}", b"", b"[{}]",
    b'[{"key": 5}]', b"\xff\xfe\xfd", b'[{"key": "k", "etag": 5}]', b"[" * 10000,
])
@pytest.mark.parametrize("path", ["/v1.0/state/statestore", "/v1.0/state/statestore/bulk",
                                  "/v1.0/state/statestore/transaction"])
def test_malformed_state_bodies_are_refused(http, path, body):
    r = http.post(path, content=body, headers={"content-type": "application/json"})
    if r.status_code >= 400:
        assert_dapr_error(r)
        assert r.status_code < 500, r.text
    else:
        assert r.status_code in (200, 204)  # e.g. an empty bulk or transaction


def test_invalid_utf8_is_survived(http, sidecar):
    assert http.put("/v1.0/metadata/k", content=b"\xff\xfe").status_code == 204
    assert_dapr_error(http.get("/v1.0/secrets/files/%ff%fe"), 500)
    reply = raw_exchange(sidecar.http_port,
                         b"GET /v1.0/secrets/files/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.") and b" 400 " in reply.split(b"\r\n")[0]
    reply = raw_exchange(sidecar.http_port, b"GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\n"
                         b"x-bin: \xff\xfe\x80\r\nConnection: close\r\n\r\n")
    assert reply.split(b"\r\n")[0].endswith(b"200 OK")


@pytest.mark.parametrize("request_bytes", [
    b"GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\n" + b"x-many: 1\r\n" * 20_000 + b"\r\n",
    b"GET /v1.0/metadata/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["one huge header", "many headers", "huge url"])
def test_huge_headers_are_refused(sidecar, request_bytes):
    reply = raw_exchange(sidecar.http_port, request_bytes)
    status_line = reply.split(b"\r\n")[0]
    assert status_line == b"" or b" 4" in status_line, status_line
    assert_still_serving(sidecar)


@pytest.mark.parametrize("path", ["/", "/v1.0", "/v1.0/unknown", "/v2.0/state/statestore/k",
                                  "/v1.0/invoke/x", "/v1.0/secrets", "/favicon.ico"])
def test_unknown_paths_are_404_with_dapr_error(http, path):
    assert_dapr_error(http.get(path), 404)


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/v1.0/metadata"), ("POST", "/v1.0/healthz"), ("PUT", "/v1.0/healthz/outbound"),
    ("PATCH", "/v1.0/state/statestore"), ("GET", "/v1.0/state/statestore"),
    ("POST", "/v1.0/secrets/files/k"), ("DELETE", "/v1.0/secrets/files/bulk"),
    ("GET", "/v1.0/state/statestore/transaction/x"),
])
def test_wrong_methods_are_refused_with_dapr_error(http, method, path):
    r = http.request(method, path)
    assert r.status_code in (404, 405), r.text
    assert_dapr_error(r)


def test_random_bytes_to_the_port(sidecar):
    rng = random.Random(20240501)
    for _ in range(25):
        raw_exchange(sidecar.http_port, rng.randbytes(rng.randint(1, 8192)), hang_up=True)
    # Requests cut off half-way, as a dropped link leaves them.
    for partial in (b"POST /v1.0/state/statestore HTTP/1.1\r\nContent-Length: 100\r\n\r\n[",
                    b"GET /v1.0/metad",
                    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        raw_exchange(sidecar.http_port, partial, hang_up=True)
    assert_still_serving(sidecar)


def _random_request(rng: random.Random) -> tuple[str, str, bytes, dict[str, bytes]]:
    paths = ["/v1.0/state/statestore", "/v1.0/state/statestore/bulk",
             "/v1.0/state/statestore/transaction", "/v1.0-alpha1/state/statestore/query",
             "/v1.0/state/statestore/{word}", "/v1.0/state/{word}/{word}",
             "/v1.0/secrets/files/{word}", "/v1.0/secrets/{word}/bulk", "/v1.0/metadata",
             "/v1.0/metadata/{word}",
             "/v1.0/healthz", "/v1.0/healthz/outbound", "/v1.0/invoke/{word}/method/{word}",
             "/{word}", "/v1.0/{word}/{word}"]
    words = ["k", "a||b", "%00", "%2F", "..", "", "ü", "%ff", "x" * 300, "bulk", "{}", "a b"]
    bodies: list[object] = [
        [{"key": "k", "value": {"a": 1}}], [{"key": "k", "value": 1, "etag": "nope"}],
        [{"key": "k", "metadata": {"ttlInSeconds": "x"}}], {"keys": ["k", 5]}, {"keys": "k"},
        {"operations": [{"operation": "upsert", "request": {"key": "k"}}]},
        {"operations": [{"operation": "merge", "request": {}}]}, {"operations": "x"},
        {"filter": {"EQ": {}}}, {"filter": {"AND": [1]}}, {"page": {"limit": -1}},
        {"sort": [{"key": 1}]}, [], {}, None, 1e308, "x",
    ]
    path = rng.choice(paths).replace("{word}", "{}")
    path = path.format(*(rng.choice(words) for _ in range(path.count("{}"))))
    choice = rng.random()
    if choice < 0.6:
        body = json.dumps(rng.choice(bodies)).encode()
    elif choice < 0.8:
        body = rng.randbytes(rng.randint(0, 64))
    else:
        body = json.dumps(rng.choice(bodies)).encode()[: rng.randint(0, 20)]
    word = rng.choice(words).encode()  # header values go out as raw UTF-8 bytes
    headers = rng.choice([{}, {"content-type": b"application/json"}, {"If-Match": word},
                          {"dapr-app-id": word}, {"content-type": b"text/plain; charset=nope"}])
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
    return method, path, body, headers


def test_randomized_requests_get_answers_not_crashes(http, sidecar):
    rng = random.Random(1234)
    for _ in range(250):
        method, path, body, headers = _random_request(rng)
        try:
            r = http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            pytest.fail(f"{method} {path} {body!r} {headers}: {exc!r}")
        if r.status_code >= 400 and r.headers.get("x-app") != "echo":
            try:
                assert_dapr_error(r)
            except AssertionError as exc:
                raise AssertionError(f"{method} {path} {body!r} {headers}: {r.text}") from exc
    assert "Traceback" not in sidecar.output()
