"""What a failed gRPC call tells a client: its status code, Dapr's error code
(the ErrorInfo detail's metadata errorCode) and its message."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def error_info(error: grpc.RpcError) -> dict[str, str]:
    """The metadata of the status's ErrorInfo detail ({} when it has none)."""
    # The SDK's DaprGrpcError has parsed the status already; a raw RpcError has not.
    parsed = getattr(error, "get_grpc_status", None)
    status = parsed() if parsed is not None else rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return dict(info.metadata)
    return {}


def failure(error: grpc.RpcError) -> tuple[grpc.StatusCode, str, str]:
    return error.code(), error_info(error).get("errorCode", ""), error.details() or ""
