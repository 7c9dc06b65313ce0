"""The gRPC server itself: metadata, health, API token, bad input."""

from __future__ import annotations

import socket

import grpc
import pytest
import yaml
from dapr.clients.exceptions import DaprGrpcError
from dapr.proto.runtime.v1 import actors_pb2, dapr_pb2_grpc, jobs_pb2, state_pb2
from google.protobuf import empty_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from tests.harness import wait_until


def test_metadata_over_grpc_matches_http(spawn, resources, client_for):
    sidecar = spawn.sidecar("meta", resources)
    client = client_for(sidecar)
    found = client.get_metadata()
    assert found.application_id == "meta"
    assert [(c.name, c.type) for c in found.registered_components] == [
        ("statestore", "state.sqlite")]
    client.set_metadata("site", "plant-3")
    assert client.get_metadata().extended_metadata["site"] == "plant-3"
    # Set over gRPC, read over HTTP: one sidecar, one set of facts.
    assert sidecar.client().get("/v1.0/metadata").json()["extended"]["site"] == "plant-3"


def test_health_service_answers_serving(spawn):
    sidecar = spawn.sidecar("health")
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_api_token_is_required_over_grpc(spawn, client_for):
    sidecar = spawn.sidecar("token", env={"DAPR_API_TOKEN": "s3cret"})
    with pytest.raises(DaprGrpcError) as refused:
        client_for(sidecar, token="wrong").get_metadata()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert client_for(sidecar, token="s3cret").get_metadata().application_id == "token"


def test_a_method_edge_lacks_answers_unimplemented(spawn):
    sidecar = spawn.sidecar("lacks")
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel, \
            pytest.raises(grpc.RpcError) as refused:
        dapr_pb2_grpc.DaprStub(channel).GetJobAlpha1(jobs_pb2.GetJobRequest(name="j"),
                                                     timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "not implemented by edge" in refused.value.details()


def test_junk_on_the_grpc_port_does_not_hurt(spawn, client_for):
    sidecar = spawn.sidecar("junk")
    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00" * 64, b"PRI * HTTP/2.0\r\n"):
        with socket.create_connection(("127.0.0.1", sidecar.grpc_port), timeout=5) as conn:
            conn.sendall(junk)
            conn.settimeout(2)
            try:
                conn.recv(1024)
            except TimeoutError:
                pass
    assert client_for(sidecar).get_metadata().application_id == "junk"


def test_shutdown_over_grpc_stops_the_sidecar(spawn, client_for):
    sidecar = spawn.sidecar("bye")
    client_for(sidecar).shutdown()
    wait_until(lambda: sidecar.proc.poll() is not None, timeout=15)
    assert sidecar.proc.returncode == 0


def test_api_allow_and_deny_lists_apply_to_grpc_methods(spawn, tmp_path, client_for):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration", "metadata": {"name": "c"},
        "spec": {"api": {
            "allowed": [{"name": "metadata", "version": "v1", "protocol": "grpc"},
                        {"name": "shutdown", "version": "v1", "protocol": "grpc"}],
            "denied": [{"name": "shutdown", "version": "v1", "protocol": "grpc"}]}}}))
    sidecar = spawn.sidecar("listed", args=["--config", str(config)])
    client = client_for(sidecar)
    assert client.get_metadata().application_id == "listed"
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        stub = dapr_pb2_grpc.DaprStub(channel)
        for call, request in ((stub.InvokeActor, actors_pb2.InvokeActorRequest()),
                              (stub.Shutdown, empty_pb2.Empty())):
            with pytest.raises(grpc.RpcError) as refused:
                call(request, timeout=5)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "not allowed by spec.api" in refused.value.details()
    # gRPC rules leave the HTTP API alone.
    assert sidecar.client().get("/v1.0/metadata").status_code == 200
    assert sidecar.proc.poll() is None


def test_errors_carry_daprs_error_info(spawn, resources):
    sidecar = spawn.sidecar("reasons", resources)
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel, \
            pytest.raises(grpc.RpcError) as refused:
        dapr_pb2_grpc.DaprStub(channel).GetState(
            state_pb2.GetStateRequest(store_name="nowhere", key="k"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)
    [detail] = status.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    assert (info.reason, info.domain) == ("DAPR_STATE_NOT_FOUND", "dapr.io")
    assert info.metadata["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"
