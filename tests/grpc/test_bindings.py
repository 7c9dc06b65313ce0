"""Bindings over gRPC: InvokeBinding from the SDK's DaprClient, and input
binding events delivered to a gRPC app (`--app-protocol grpc`) written with
the SDK's gRPC App (tests/grpc/apps/grpc_app.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc
import pytest

from tests.grpc.apps import GrpcApp
from tests.harness import wait_until

GRPC = ["--app-protocol", "grpc"]


def events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- input bindings to a gRPC app

def test_cron_events_reach_a_grpc_apps_binding_handler_with_the_app_token(spawn, component,
                                                                          tmp_path):
    resources = component("cron-in", "bindings.cron",
                          {"schedule": "@every 1s", "direction": "input"}).parent
    received = tmp_path / "events.jsonl"
    app = spawn.track(GrpcApp(spawn.workdir, {"EVENTS_FILE": str(received)}))
    spawn.sidecar("ticker", resources, app_port=app.port, args=GRPC, wait="ready",
                  env={"APP_API_TOKEN": "app-s3cret"})
    found = wait_until(lambda: len(events(received)) >= 2 and events(received), timeout=15,
                       what="two cron events at the gRPC app")
    assert {e["binding"] for e in found} == {"cron-in"}
    assert found[0]["metadata"]["dapr-api-token"] == "app-s3cret"


def test_only_the_bindings_a_grpc_app_lists_are_started(spawn, component, tmp_path):
    # Neither says its direction: the app's ListInputBindings decides.
    component("cron-in", "bindings.cron", {"schedule": "@every 1s"})
    resources = component("cron-other", "bindings.cron", {"schedule": "@every 1s"}).parent
    received = tmp_path / "events.jsonl"
    app = spawn.track(GrpcApp(spawn.workdir, {"EVENTS_FILE": str(received)}))
    sidecar = spawn.sidecar("lister", resources, app_port=app.port, args=GRPC, wait="ready")
    wait_until(lambda: events(received), timeout=15, what="a cron event at the gRPC app")
    assert "input binding cron-in started" in sidecar.output()
    assert "app has not subscribed to binding cron-other" in sidecar.output()
    assert {e["binding"] for e in events(received)} == {"cron-in"}


def test_an_events_answer_sends_its_data_to_the_bindings_it_names(spawn, component, tmp_path):
    root = tmp_path / "files"
    component("files", "bindings.localstorage", {"rootPath": str(root)})
    resources = component("cron-forward", "bindings.cron",
                          {"schedule": "@every 1s", "direction": "input"}).parent
    app = spawn.track(GrpcApp(spawn.workdir, {"EVENTS_FILE": str(tmp_path / "events.jsonl")}))
    spawn.sidecar("forwarder", resources, app_port=app.port, args=GRPC, wait="ready")
    written = wait_until(lambda: root.is_dir() and list(root.iterdir()), timeout=15,
                         what="the app's answer written by bindings.localstorage")
    assert json.loads(written[0].read_text()) == {"forwarded": True}


# -- InvokeBinding

@pytest.fixture
def outputs(spawn, component, tmp_path):
    """A sidecar with bindings.http to the echo app and bindings.localstorage."""
    echo = spawn.app("echo_app.py")
    component("web", "bindings.http", {"url": f"{echo.url}/api"})
    root = tmp_path / "files"
    resources = component("files", "bindings.localstorage", {"rootPath": str(root)}).parent
    return spawn.sidecar("outputs", resources), root


def test_invoke_binding_http_sends_the_bytes_given(outputs, client_for):
    sidecar, _ = outputs
    answer = client_for(sidecar).invoke_binding("web", "post", data=b"hello",
                                                binding_metadata={"path": "/things?q=1"})
    echo = json.loads(answer.data)
    assert echo["method"] == "POST"
    assert echo["path"] == "/api/things"
    assert echo["query"] == "q=1"
    assert echo["body"] == "aGVsbG8="  # b"hello", as sent: no JSON encoding over gRPC
    assert answer.binding_metadata["statusCode"] == "200"
    assert answer.headers["metadata.statuscode"] == ["200"]  # the SDK lists the values


def test_invoke_binding_localstorage_round_trip_of_binary_data(outputs, client_for):
    sidecar, root = outputs
    client = client_for(sidecar)
    name = f"{uuid.uuid4().hex[:8]}.bin"
    raw = bytes(range(256))
    created = client.invoke_binding("files", "create", data=raw,
                                    binding_metadata={"fileName": name})
    assert json.loads(created.data) == {"fileName": name}
    assert (root / name).read_bytes() == raw
    assert client.invoke_binding("files", "get", binding_metadata={"fileName": name}).data == raw
    deleted = client.invoke_binding("files", "delete", binding_metadata={"fileName": name})
    assert deleted.data == b""
    assert not (root / name).exists()


@pytest.mark.parametrize(("name", "operation", "message"), [
    ("nope", "create", "error invoking output binding nope: couldn't find output binding nope"),
    ("files", "", "error invoking output binding files: operation field is missing"),
    ("files", "fly", "binding files does not support operation fly"),
    ("files", "get", "file not found"),
])
def test_invoke_binding_errors_are_internal_and_the_sidecar_keeps_serving(
        outputs, client_for, name, operation, message):
    sidecar, _ = outputs
    client = client_for(sidecar)
    with pytest.raises(grpc.RpcError) as failed:
        client.invoke_binding(name, operation, binding_metadata={"fileName": "missing.txt"})
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert message in failed.value.details()
    assert client.invoke_binding("files", "list").data.startswith(b"[")
