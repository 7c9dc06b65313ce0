"""Service invocation over gRPC (InvokeService), and apps that speak gRPC
(`--app-protocol grpc`): real sidecars, the SDK's DaprClient as the caller and
the SDK's gRPC App (tests/grpc/apps/grpc_app.py) as the callee."""

from __future__ import annotations

import base64
import json

import grpc
import httpx
import pytest
from dapr.conf import settings
from google.protobuf.wrappers_pb2 import StringValue

from tests.cli.helpers import EdgeRun, edge_env
from tests.grpc.apps import GRPC_APP, GrpcApp
from tests.grpc.failures import error_info
from tests.harness import free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GRPC = ["--app-protocol", "grpc"]


@pytest.fixture
def grpc_client(client_for):
    """A DaprClient whose invoke_method uses gRPC (InvokeService): the SDK's
    default for it is HTTP, DAPR_API_METHOD_INVOCATION_PROTOCOL=grpc changes that."""

    def make(sidecar):
        saved = settings.DAPR_API_METHOD_INVOCATION_PROTOCOL
        settings.DAPR_API_METHOD_INVOCATION_PROTOCOL = "grpc"
        try:
            return client_for(sidecar)
        finally:
            settings.DAPR_API_METHOD_INVOCATION_PROTOCOL = saved

    return make


def grpc_app(spawn, env=None) -> GrpcApp:
    return spawn.track(GrpcApp(spawn.workdir, env))


def first(headers, name):
    value = dict(headers)[name]
    return value[0] if isinstance(value, list) else value


# -- a gRPC client, an HTTP app

@pytest.fixture
def http_app_sidecar(spawn):
    app = spawn.app("echo_app.py")
    return spawn.sidecar("web", app_port=app.port, wait="ready")


def test_grpc_client_invokes_an_http_app_with_verb_query_and_binary_data(http_app_sidecar,
                                                                          grpc_client):
    data = bytes(range(256))
    answer = grpc_client(http_app_sidecar).invoke_method(
        "web", "items/42", data=data, content_type="application/octet-stream",
        http_verb="PUT", http_querystring=(("a", "1"), ("b", "x y")))
    echo = json.loads(answer.data)
    assert echo["method"] == "PUT"
    assert echo["path"] == "/items/42"
    assert echo["query"] == "a=1&b=x y"  # as aiohttp decodes it for the echo app
    assert base64.b64decode(echo["body"]) == data
    assert echo["headers"]["content-type"] == "application/octet-stream"
    assert echo["headers"]["dapr-caller-app-id"] == "web"
    assert answer.content_type.startswith("application/json")
    assert first(answer.headers, "dapr-http-status") == "200"
    assert first(answer.headers, "x-app") == "echo"


def test_grpc_call_metadata_reaches_the_http_app_as_headers(http_app_sidecar, grpc_client):
    client = grpc_client(http_app_sidecar)
    answer = client.invoke_method("web", "meta", data=b"{}", content_type="application/json",
                                  http_verb="GET", metadata=(("x-trace-me", "yes"),))
    headers = json.loads(answer.data)["headers"]
    assert headers["x-trace-me"] == "yes"
    assert "dapr-api-token" not in headers


@pytest.mark.parametrize(("status", "code"), [
    (404, grpc.StatusCode.NOT_FOUND), (400, grpc.StatusCode.INTERNAL),
    (500, grpc.StatusCode.UNKNOWN), (503, grpc.StatusCode.UNAVAILABLE)])
def test_an_http_apps_error_status_becomes_daprds_grpc_status(http_app_sidecar, grpc_client,
                                                              status, code):
    with pytest.raises(grpc.RpcError) as failed:
        grpc_client(http_app_sidecar).invoke_method(
            "web", f"status/{status}", data=b"why it failed", content_type="text/plain",
            http_verb="POST")
    assert failed.value.code() == code
    assert failed.value.details() == httpx.codes.get_reason_phrase(status)
    info = error_info(failed.value)
    assert info["http.code"] == str(status)
    assert info["http.error_message"] == "why it failed"


def test_bad_invocations_get_clear_statuses_and_the_sidecar_keeps_serving(http_app_sidecar,
                                                                          grpc_client):
    client = grpc_client(http_app_sidecar)
    with pytest.raises(grpc.RpcError) as unknown:
        client.invoke_method("nobody-here", "x", data=b"", http_verb="GET")
    assert unknown.value.code() == grpc.StatusCode.INTERNAL
    assert "couldn't find service: nobody-here" in unknown.value.details()
    with pytest.raises(grpc.RpcError) as no_verb:
        client.invoke_method("web", "x", data=b"")
    assert no_verb.value.code() == grpc.StatusCode.INTERNAL
    assert "HTTP verb" in no_verb.value.details()
    with pytest.raises(grpc.RpcError) as no_id:
        client.invoke_method("", "x", data=b"", http_verb="GET")
    assert no_id.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as control:
        client.invoke_method("web", "a\x01b", data=b"", http_verb="GET")
    assert control.value.code() == grpc.StatusCode.INTERNAL
    answer = client.invoke_method("web", "still/here", data=b"", http_verb="GET")
    assert json.loads(answer.data)["path"] == "/still/here"


# -- gRPC apps

@pytest.fixture
def two_sidecars(spawn):
    """`callee`, a gRPC app behind its sidecar, and a `caller` sidecar without an app."""
    app = grpc_app(spawn)
    callee = spawn.sidecar("callee", app_port=app.port, args=GRPC, wait="ready")
    caller = spawn.sidecar("caller")
    return caller, callee


def test_grpc_client_invokes_a_grpc_app_through_two_sidecars(two_sidecars, grpc_client):
    caller, _ = two_sidecars
    client = grpc_client(caller)
    data = b"\x00\xffbinary"
    answer = client.invoke_method("callee", "echo", data=data,
                                  content_type="application/octet-stream")
    seen = json.loads(answer.data)
    assert base64.b64decode(seen["data"]) == data
    assert seen["content_type"] == "application/octet-stream"
    assert seen["verb"] == "NONE"
    assert seen["metadata"]["dapr-caller-app-id"] == "caller"
    assert seen["metadata"]["dapr-callee-app-id"] == "callee"
    assert answer.content_type == "application/json"
    assert first(answer.headers, "x-app") == "grpc"
    assert "dapr-http-status" not in dict(answer.headers)
    raw = client.invoke_method("callee", "raw", data=data, content_type="image/png")
    assert (raw.data, raw.content_type) == (data, "image/png")


def test_protobuf_messages_keep_their_type_between_grpc_apps(two_sidecars, grpc_client):
    caller, _ = two_sidecars
    answer = grpc_client(caller).invoke_method("callee", "upper", data=StringValue(value="abc"))
    upper = StringValue()
    answer.unpack(upper)
    assert upper.value == "ABC"


def test_grpc_apps_errors_keep_their_status(two_sidecars, grpc_client):
    caller, _ = two_sidecars
    client = grpc_client(caller)
    with pytest.raises(grpc.RpcError) as missing:
        client.invoke_method("callee", "no-such-method", data=b"")
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "no-such-method" in missing.value.details()
    with pytest.raises(grpc.RpcError) as boom:
        client.invoke_method("callee", "boom", data=b"")
    assert boom.value.code() == grpc.StatusCode.UNKNOWN
    assert client.invoke_method("callee", "raw", data=b"ok").data == b"ok"


def test_http_client_invokes_a_grpc_app_through_two_sidecars(two_sidecars):
    caller, _ = two_sidecars
    with caller.client() as http:
        reply = http.put("/v1.0/invoke/callee/method/echo", params={"x": "1", "y": "a b"},
                         content=b"\x01\x02", headers={"Content-Type": "text/plain",
                                                       "X-Custom": "kept"})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["x-app"] == "grpc"
        assert not any(k.startswith("edge-") for k in reply.headers)
        seen = reply.json()
        assert base64.b64decode(seen["data"]) == b"\x01\x02"
        assert seen["content_type"] == "text/plain"
        assert seen["verb"] == "PUT"
        assert seen["query"] == "x=1&y=a+b"
        assert seen["metadata"]["x-custom"] == "kept"
        assert seen["type_url"] == ""
        missing = http.post("/v1.0/invoke/callee/method/nothing", content=b"")
        assert missing.status_code == 501
        assert missing.json()["code"] == 12
        assert "nothing" in missing.json()["message"]
        failed = http.post("/v1.0/invoke/callee/method/boom", content=b"")
        assert failed.status_code == 500
        assert failed.json()["code"] == 2


def test_a_grpc_app_is_invoked_through_its_own_sidecar(spawn, grpc_client):
    app = grpc_app(spawn)
    sidecar = spawn.sidecar("self", app_port=app.port, args=GRPC, wait="ready")
    answer = grpc_client(sidecar).invoke_method("self", "raw", data=b"mine",
                                               content_type="text/plain")
    assert (answer.data, answer.content_type) == (b"mine", "text/plain")
    with sidecar.client() as http:
        assert http.post("/v1.0/invoke/self/method/raw", content=b"x").content == b"x"


def test_the_app_token_is_sent_to_a_grpc_app(spawn):
    app = grpc_app(spawn)
    sidecar = spawn.sidecar("guarded", app_port=app.port, args=GRPC, wait="ready",
                            env={"APP_API_TOKEN": "app-s3cret"})
    with sidecar.client() as http:
        seen = http.post("/v1.0/invoke/guarded/method/echo", content=b"").json()
    assert seen["metadata"]["dapr-api-token"] == "app-s3cret"


def test_edge_run_starts_a_grpc_app(tmp_path):
    env = edge_env(tmp_path)
    port = free_port()
    run = EdgeRun(tmp_path, env, "--app-id", "runner", "--app-port", str(port),
                  "--app-protocol", "grpc", "--", "python3", str(GRPC_APP), str(port))
    try:
        sidecar = run.sidecars(1, timeout=20)["runner"]
        run.wait_for(r"sidecar ready", timeout=30)
        reply = httpx.post(f"http://127.0.0.1:{sidecar.http_port}/v1.0/invoke/runner/method/raw",
                           content=b"ran", timeout=10)
        assert (reply.status_code, reply.content) == (200, b"ran")
        meta = httpx.get(f"http://127.0.0.1:{sidecar.http_port}/v1.0/metadata", timeout=10)
        assert meta.json()["appConnectionProperties"]["protocol"] == "grpc"
    finally:
        run.interrupt()
        run.wait()
        run.stop()


def test_an_http_app_started_as_grpc_is_reported_and_calls_fail_clearly(spawn, grpc_client):
    app = spawn.app("echo_app.py")
    sidecar = spawn.sidecar("mixed-up", app_port=app.port, args=GRPC, wait="ready")
    assert "does not answer gRPC" in sidecar.output()
    with sidecar.client() as http:
        reply = http.post("/v1.0/invoke/mixed-up/method/hi", content=b"")
    assert reply.status_code == 503
    assert reply.json()["code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    with pytest.raises(grpc.RpcError) as failed:
        grpc_client(sidecar).invoke_method("mixed-up", "hi", data=b"")
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert grpc_client(sidecar).get_metadata().application_id == "mixed-up"
