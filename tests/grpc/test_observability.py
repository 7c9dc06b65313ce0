"""gRPC calls in metrics and traces, as HTTP calls are."""

from __future__ import annotations

import grpc
import pytest
from dapr.proto.runtime.v1 import dapr_pb2_grpc, metadata_pb2

from tests.metrics.helpers import Scrape, with_metrics
from tests.tracing.conftest import Collector, check_zipkin, write_config

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_grpc_calls_are_counted(spawn):
    sidecar, port = with_metrics(spawn, "counted", env={"DAPR_API_TOKEN": "t"})
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        stub = dapr_pb2_grpc.DaprStub(channel)
        for _ in range(2):
            stub.GetMetadata(metadata_pb2.GetMetadataRequest(), timeout=5,
                             metadata=[("dapr-api-token", "t")])
        with pytest.raises(grpc.RpcError):
            stub.GetMetadata(metadata_pb2.GetMetadataRequest(), timeout=5)
    scrape = Scrape(port)
    method = "/dapr.proto.runtime.v1.Dapr/GetMetadata"
    assert scrape.value("dapr_grpc_io_server_completed_rpcs_total", grpc_server_method=method,
                        grpc_server_status="OK") == 2
    assert scrape.value("dapr_grpc_io_server_completed_rpcs_total", grpc_server_method=method,
                        grpc_server_status="UNAUTHENTICATED") == 1
    assert scrape.value("dapr_grpc_io_server_server_latency_count",
                        grpc_server_method=method, grpc_server_status="OK") == 2


def test_grpc_call_continues_the_callers_trace(spawn, tmp_path, collector: Collector):
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    sidecar = spawn.sidecar("traced", args=["--config", str(config)])
    parent = f"00-{TRACE}-00f067aa0ba902b7-01"
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        dapr_pb2_grpc.DaprStub(channel).GetMetadata(metadata_pb2.GetMetadataRequest(),
                                                     timeout=5,
                                                     metadata=[("traceparent", parent)])
    [span] = collector.wait_for(TRACE, 1)
    check_zipkin(span)
    assert span["name"] == "/dapr.proto.runtime.v1.Dapr/GetMetadata"
    assert span["kind"] == "SERVER"
    assert span["parentId"] == "00f067aa0ba902b7"
