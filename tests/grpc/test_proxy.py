"""gRPC proxying: any gRPC method, called with dapr-app-id metadata, reaches
the app through both sidecars as raw bytes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import grpc
import pytest
import yaml

from tests.harness import Process, free_port, wait_until

APP = Path(__file__).parent / "apps" / "raw_echo.py"


def _raw_app(spawn, tmp_path: Path) -> int:
    port = free_port()
    app = spawn.track(Process([sys.executable, str(APP), str(port)],
                              tmp_path / f"raw-echo-{port}.log", cwd=tmp_path))

    def listening() -> bool:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=1)
            return True
        except grpc.FutureTimeoutError:
            return False

    wait_until(listening, timeout=15)
    assert app.proc.poll() is None
    return port


@pytest.fixture
def pair(spawn, tmp_path):
    def start(server_args: tuple[str, ...] = ()) -> tuple[grpc.Channel, list]:
        app_port = _raw_app(spawn, tmp_path)
        spawn.sidecar("server", app_port=app_port, args=["--app-protocol", "grpc",
                                                          *server_args])
        caller = spawn.sidecar("caller")
        channel = grpc.insecure_channel(f"127.0.0.1:{caller.grpc_port}")
        return channel, [("dapr-app-id", "server")]

    return start


def test_unary_and_streaming_calls_are_proxied(pair):
    channel, to_server = pair()
    say = channel.unary_unary("/test.Echo/Say")
    answer = json.loads(say(b"hello", metadata=[*to_server, ("x-custom", "kept")], timeout=10))
    assert answer == {"body": "hello", "caller": "caller", "custom": "kept", "token": None}
    count = channel.unary_stream("/test.Echo/Count")
    assert list(count(b"3", metadata=to_server, timeout=10)) == [b"1", b"2", b"3"]
    with pytest.raises(grpc.RpcError) as failed:
        channel.unary_unary("/test.Echo/Fail")(b"", metadata=to_server, timeout=10)
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert failed.value.details() == "no such thing"


def test_proxy_errors(pair):
    channel, _ = pair()
    say = channel.unary_unary("/test.Echo/Say")
    with pytest.raises(grpc.RpcError) as no_id:
        say(b"x", timeout=10)
    assert no_id.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as unknown:
        say(b"x", metadata=[("dapr-app-id", "nobody")], timeout=10)
    assert unknown.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "couldn't find service: nobody" in unknown.value.details()


def test_access_control_applies_to_proxied_calls(pair, tmp_path):
    config = tmp_path / "acl.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration", "metadata": {"name": "acl"},
        "spec": {"accessControl": {"defaultAction": "deny", "trustDomain": "public",
                                   "policies": [{"appId": "caller", "defaultAction": "deny",
                                                 "operations": [{"name": "/test.Echo/Say",
                                                                 "httpVerb": ["*"],
                                                                 "action": "allow"}]}]}}}))
    channel, to_server = pair(("--config", str(config)))
    assert json.loads(channel.unary_unary("/test.Echo/Say")(b"ok", metadata=to_server,
                                                           timeout=10))["body"] == "ok"
    with pytest.raises(grpc.RpcError) as denied:
        list(channel.unary_stream("/test.Echo/Count")(b"1", metadata=to_server, timeout=10))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
