"""InvokeService over gRPC: the same invocation as /v1.0/invoke/{id}/method/{m}
(edge.runtime.invocation.invoke), to an app speaking HTTP or gRPC.

The request's http_extension gives the HTTP verb and query string, its data
the body and content_type its type. An HTTP app's answer comes back as
InvokeResponse{data, content_type} with its headers as response metadata and
`dapr-http-status`; a non-2xx answer becomes the gRPC status daprd gives it
(ErrorInfo with `http.code` and `http.error_message`). A gRPC app's own status
comes back as it answered it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from edge.api.grpc.protos import common
from edge.api.grpc.protos import invoke as pb
from edge.api.grpc.server import DOMAIN, rpc
from edge.errors import DaprError, Err, Kind
from edge.runtime.appgrpc import (
    GRPC_STATUS,
    PROTOBUF,
    TYPE_URL,
    from_metadata,
    grpc_code_of,
    status_from_body,
    to_metadata,
)
from edge.runtime.channel import Reply, forwardable
from edge.runtime.invocation import SIDECAR_ERROR, invoke, normalize_method, without_private

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar

# What a method name may keep unencoded in the URL path edge routes it by.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# ErrorInfo metadata values are limited to 63 characters (google.rpc.ErrorInfo).
_DETAIL_LIMIT = 63


@rpc("InvokeService")
async def invoke_service(sidecar: Sidecar, request: pb.InvokeServiceRequest,
                         context: grpc.aio.ServicerContext) -> common.InvokeResponse:
    message = request.message
    extension = message.http_extension
    verb = common.HTTPExtension.Verb.Name(extension.verb)
    headers = without_private(forwardable(from_metadata(context.invocation_metadata() or ())))
    headers.popall("dapr-app-id", None)
    if message.content_type:
        headers["Content-Type"] = message.content_type
    if message.data.type_url:
        headers[TYPE_URL] = message.data.type_url
    path = quote(normalize_method(message.method), safe=_PATH_SAFE)
    reply = await invoke(sidecar, request.id, verb, path, extension.querystring, headers,
                         message.data.value)
    return await _answer(reply, context)


async def _answer(reply: Reply, context: grpc.aio.ServicerContext) -> common.InvokeResponse:
    if reply.headers.get(SIDECAR_ERROR):
        raise _sidecar_error(reply)
    from_grpc_app = GRPC_STATUS in reply.headers
    metadata = to_metadata(without_private(reply.headers.copy()).items())
    if not from_grpc_app:
        metadata.append(("dapr-http-status", str(reply.status)))
    await context.send_initial_metadata(metadata)
    if from_grpc_app:
        code = int(reply.headers[GRPC_STATUS] or 0)
        if code:
            found = status_from_body(code, reply.body)
            await context.abort_with_status(rpc_status.to_status(found))
    elif grpc_code_of(reply.status):
        await context.abort_with_status(_http_failure(reply))
    type_url = reply.headers.get(TYPE_URL, "")
    content_type = reply.headers.get("Content-Type", "")
    if type_url and content_type == PROTOBUF:
        # Set for HTTP callers only: a gRPC app answering a typed Any leaves
        # content_type empty, and the SDKs unpack the Any when it is.
        content_type = ""
    answer = common.InvokeResponse(content_type=content_type)
    answer.data.value = reply.body
    answer.data.type_url = type_url
    return answer


def _http_failure(reply: Reply) -> grpc.Status:
    """An HTTP app's non-2xx answer as the status daprd gives a gRPC caller:
    the HTTP reason as message, the code and the start of the body as ErrorInfo."""
    from http import HTTPStatus

    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = ""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata={
        "http.code": str(reply.status),
        "http.error_message": reply.body[:_DETAIL_LIMIT].decode(errors="replace")})
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc_status.to_status(status_pb2.Status(code=grpc_code_of(reply.status),
                                                  message=reason, details=[detail]))


def _sidecar_error(reply: Reply) -> DaprError:
    """The called sidecar's own DaprError, rebuilt from its JSON."""
    try:
        found: Any = json.loads(reply.body)
        code, message = str(found["errorCode"]), str(found["message"])
    except (ValueError, KeyError, TypeError):
        return DaprError(Err.DIRECT_INVOKE, "failed to invoke: the called sidecar answered "
                         f"{reply.status} with an unreadable error")
    return DaprError(Kind(code, reply.status), message)
