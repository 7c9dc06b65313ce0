"""The gRPC API: Dapr's `dapr.proto.runtime.v1.Dapr` service and the standard
health service on --dapr-grpc-port.

Each building block's module registers its methods with `@rpc("GetState")`;
a method takes (sidecar, request, context) and returns the response (or, for a
server-streaming method, yields them). Errors are DaprErrors, rendered here
once: the status code Dapr gives them and a google.rpc.ErrorInfo detail with
Dapr's reason. Nothing a client sends may take the sidecar down: any other
exception is logged and answered INTERNAL. Methods no module registers answer
UNIMPLEMENTED (the generated base class does that)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from edge.api.access import grpc_allowed
from edge.api.grpc import blocks
from edge.api.grpc.protos import dapr_grpc
from edge.api.grpc.proxy import Proxy
from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.api.grpc")

Handler = Callable[..., Any]
HANDLERS: dict[str, Handler] = {}
DOMAIN = "dapr.io"
SERVICE = "/dapr.proto.runtime.v1.Dapr/"
_CODES = {code.value[0]: code for code in grpc.StatusCode}  # number -> StatusCode
TOKEN = "dapr-api-token"


def rpc(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the Dapr service's method `name`."""

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise RuntimeError(f"gRPC method {name} registered twice")
        HANDLERS[name] = fn
        return fn

    return register


def reason_of(error: DaprError) -> str:
    """Dapr's ErrorInfo reason for an error code: ERR_STATE_GET -> DAPR_STATE_GET."""
    if error.kind.reason:
        return error.kind.reason
    code = error.kind.code
    return "DAPR_" + code[4:] if code.startswith("ERR_") else code


def status_of(error: DaprError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=reason_of(error), domain=DOMAIN,
                                       metadata={"errorCode": error.kind.code})
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc_status.to_status(status_pb2.Status(code=error.kind.grpc_code,
                                                  message=error.message, details=[detail]))


async def _abort(context: grpc.aio.ServicerContext, error: DaprError) -> None:
    await context.abort_with_status(status_of(error))


def _checked(sidecar: Sidecar, context: grpc.aio.ServicerContext) -> None:
    token = sidecar.options.api_token
    if token:
        given = dict(context.invocation_metadata() or ()).get(TOKEN, "")
        if given != token:
            raise DaprError(Err.UNAUTHORIZED, "missing or wrong dapr-api-token metadata "
                            "(DAPR_API_TOKEN is set)")


@contextlib.asynccontextmanager
async def _serving(sidecar: Sidecar, name: str,
                   context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """One call: token check, trace span, metrics, and errors rendered as statuses."""
    started = time.perf_counter()
    span = tracing.start_span(SERVICE + name, tracing.SERVER,
                              tracing.from_headers(dict(context.invocation_metadata() or ())),
                              rpc__service="Dapr", rpc__method=name, dapr__protocol="grpc")
    token = tracing.current.set(span.context) if span is not None else None
    code = grpc.StatusCode.OK
    try:
        _checked(sidecar, context)
        yield
    except DaprError as error:
        code = _CODES.get(error.kind.grpc_code, grpc.StatusCode.UNKNOWN)
        await _abort(context, error)
    except asyncio.CancelledError:
        code = grpc.StatusCode.CANCELLED
        raise
    except grpc.aio.AbortError:
        code = context.code() or grpc.StatusCode.UNKNOWN
        raise
    except Exception:  # a bug must answer INTERNAL, not end the sidecar
        log.exception("gRPC %s failed", name)
        code = grpc.StatusCode.INTERNAL
        await _abort(context, DaprError(Err.INTERNAL, f"{name} failed unexpectedly"))
    finally:
        if token is not None:
            tracing.current.reset(token)
        metrics.grpc_served(SERVICE + name, code.name, started)
        if span is not None:
            span.tag(rpc__grpc__status_code=code.value[0])
            tracing.finish(span)


def _unary(sidecar: Sidecar, name: str, fn: Handler) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with _serving(sidecar, name, context):
            return await fn(sidecar, request, context)

    return handle


def _streaming(sidecar: Sidecar, name: str, fn: Handler) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with _serving(sidecar, name, context):
            async for response in fn(sidecar, request, context):
                yield response

    return handle


class _DaprService(dapr_grpc.DaprServicer):  # type: ignore[misc]
    """The generated service; registered methods are set on the instance."""


def _service(sidecar: Sidecar) -> _DaprService:
    blocks.load()
    service = _DaprService()
    for name in dir(dapr_grpc.DaprServicer):
        if not name.startswith("_"):
            setattr(service, name, _unimplemented(name))
    for name, fn in HANDLERS.items():
        wrap = _streaming if inspect.isasyncgenfunction(fn) else _unary
        setattr(service, name, wrap(sidecar, name, fn))
    for name in HANDLERS:
        if not grpc_allowed(name, sidecar.config.api):
            setattr(service, name, _refused(name, sidecar.config.file or "the Configuration"))
    return service


def _refused(name: str, where: str) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                            f"{name} is not allowed by spec.api of {where}")

    return handle


def _unimplemented(name: str) -> Handler:
    # The generated default raises in a worker thread and logs a traceback.
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                            f"{name} is not implemented by edge")

    return handle


async def start(sidecar: Sidecar) -> grpc.aio.Server:
    """Serve on every listen address at --dapr-grpc-port."""
    options = sidecar.options
    limit = options.max_request_size_mb * 1024 * 1024
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", limit),
                                      ("grpc.so_reuseport", 0)])
    dapr_grpc.add_DaprServicer_to_server(_service(sidecar), server)
    server.add_generic_rpc_handlers((Proxy(sidecar),))
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    for host in options.listen_addresses:
        address = f"[{host}]" if ":" in host else host
        if server.add_insecure_port(f"{address}:{options.dapr_grpc_port}") == 0:
            raise OSError(f"gRPC API: cannot listen on {host}:{options.dapr_grpc_port}")
    await server.start()
    return server
