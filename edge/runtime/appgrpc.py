"""The channel to an app started with --app-protocol grpc: one gRPC connection,
reused by every call, to the app's dapr.proto.runtime.v1.AppCallback services
(invocation, topic events, binding events).

It also holds the translations Dapr makes between its HTTP and gRPC worlds:
HTTP headers <-> gRPC metadata, and HTTP statuses <-> gRPC status codes. The
calls themselves (OnInvoke, ListInputBindings, OnBindingEvent)
are made here so that the rest of the runtime keeps speaking in Replies."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from multidict import CIMultiDict

from edge.runtime.channel import Reply

if TYPE_CHECKING:
    import grpc

log = logging.getLogger("edge.runtime.appgrpc")

# Headers edge adds between its own sidecars (never shown to a caller): the
# gRPC status a gRPC app answered with, and the type URL of an Any's data,
# which the HTTP hop between sidecars would otherwise lose.
GRPC_STATUS = "edge-grpc-status"
TYPE_URL = "edge-data-type-url"
PRIVATE = (GRPC_STATUS, TYPE_URL)
PROTOBUF = "application/x-protobuf"

# HTTP headers Dapr renames `dapr-<name>` when they become gRPC metadata: they
# describe the HTTP message, and some would confuse the gRPC one.
_PERMANENT = frozenset({
    "accept", "accept-charset", "accept-language", "accept-ranges", "connection", "keep-alive",
    "proxy-connection", "transfer-encoding", "upgrade", "cache-control", "content-type",
    "content-length", "cookie", "date", "expect", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-schedule-tag-match", "if-unmodified-since",
    "max-forwards", "origin", "pragma", "referer", "via", "warning",
})
_KEY = re.compile(r"[0-9a-z_.-]+")
_VALUE = re.compile(r"[\x20-\x7e]*")

# daprd's mapping of an HTTP app's answer to the gRPC status its gRPC caller gets.
_CODE_BY_HTTP = {408: 1, 500: 2, 400: 13, 504: 4, 404: 5, 409: 6, 403: 7, 401: 16, 429: 8,
                 501: 12, 503: 14}
# And of a gRPC app's status to the HTTP status its HTTP caller gets.
_HTTP_BY_CODE = {0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 16: 401,
                 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500}


def grpc_code_of(status: int) -> int:
    """The gRPC code daprd gives an HTTP app's answer (0 for any 2xx)."""
    if status in _CODE_BY_HTTP:
        return _CODE_BY_HTTP[status]
    return 0 if 200 <= status < 300 else 2


def http_status_of(code: int) -> int:
    """The HTTP status daprd answers an HTTP caller with for a gRPC app's code."""
    return _HTTP_BY_CODE.get(code, 500)


def to_metadata(headers: Iterable[tuple[str, str]], rename: bool = True) -> list[tuple[str, str]]:
    """HTTP headers as gRPC metadata. Keys gRPC reserves or that describe the HTTP
    message get a `dapr-` prefix, as Dapr does; binary (-bin) entries and what
    gRPC cannot carry are left out."""
    found: list[tuple[str, str]] = []
    for key, value in headers:
        name = key.lower()
        if name in PRIVATE or name.endswith("-bin"):
            continue
        if name.startswith(":"):
            name = "dapr-" + name[1:]
        elif name.startswith("grpc-") or (rename and name in _PERMANENT):
            name = "dapr-" + name
        if _KEY.fullmatch(name) and _VALUE.fullmatch(value):
            found.append((name, value))
    return found


def from_metadata(metadata: Iterable[tuple[str, Any]]) -> CIMultiDict[str]:
    """gRPC metadata as HTTP headers (the gRPC message's own entries are not
    the HTTP message's: content-type is left out, grpc-* renamed dapr-grpc-*)."""
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in metadata:
        name = key.lower()
        if name == "content-type" or name.endswith("-bin") or not isinstance(value, str):
            continue
        if name.startswith(":"):
            name = "dapr-" + name[1:]
        elif name.startswith("grpc-"):
            name = "dapr-" + name
        headers.add(name, value)
    return headers


def status_body(code: int, message: str, details: Iterable[Any] = ()) -> bytes:
    """A gRPC status as the JSON daprd answers an HTTP caller with ({code, message, details})."""
    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401  (details' types)

    status = status_pb2.Status(code=code, message=message, details=list(details))
    try:
        return json_format.MessageToJson(status, indent=None).encode()
    except (TypeError, json_format.Error):  # a detail of a type edge cannot name
        return json_format.MessageToJson(status_pb2.Status(code=code, message=message),
                                         indent=None).encode()


def status_from_body(code: int, body: bytes) -> Any:
    """The google.rpc.Status behind status_body's JSON (code and message at least)."""
    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401

    try:
        return json_format.Parse(body, status_pb2.Status(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError):
        pass
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return status_pb2.Status(code=code, message=str(message))


class GrpcApp:
    def __init__(self, address: str, port: int, app_token: str | None = None) -> None:
        host = f"[{address}]" if ":" in address else address
        self.target = f"{host}:{port}"
        self.app_token = app_token
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[str, Any] = {}

    def _stub(self, name: str) -> Any:
        stub = self._stubs.get(name)
        if stub is None:
            # Imported on first use: HTTP apps never load gRPC.
            import grpc

            from edge.api.grpc.protos import appcallback_grpc

            if self._channel is None:
                # No message size limit of gRPC's own: what reaches the app has
                # passed the API's --dapr-http-max-request-size already.
                self._channel = grpc.aio.insecure_channel(
                    self.target, options=[("grpc.max_send_message_length", -1),
                                          ("grpc.max_receive_message_length", -1)])
            stub = self._stubs[name] = getattr(appcallback_grpc, name)(self._channel)
        return stub

    @property
    def callback(self) -> Any:
        """AppCallback: OnInvoke, ListTopicSubscriptions, OnTopicEvent, ListInputBindings,
        OnBindingEvent."""
        return self._stub("AppCallbackStub")

    @property
    def alpha(self) -> Any:
        """AppCallbackAlpha: OnBulkTopicEventAlpha1, OnJobEventAlpha1."""
        return self._stub("AppCallbackAlphaStub")

    def metadata(self, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        """Call metadata: the app token (as Dapr sends it), then any extra pairs."""
        found = [("dapr-api-token", self.app_token)] if self.app_token else []
        return found + list(extra or [])

    # -- service invocation

    async def invoke(self, verb: str, path: str, query: str, headers: CIMultiDict[str],
                     body: bytes) -> Reply:
        """One invocation as OnInvoke, its answer as the Reply an HTTP caller gets:
        200 with the data, or the app's gRPC status as daprd renders it for HTTP."""
        import grpc

        from edge.api.grpc.protos import common

        type_url = headers.pop(TYPE_URL, "")
        content_type = headers.pop("Content-Type", "")
        request = common.InvokeRequest(
            method=unquote(path), content_type=content_type,
            http_extension=common.HTTPExtension(verb=_verb(verb), querystring=query))
        request.data.value = body
        request.data.type_url = type_url
        call = self.callback.OnInvoke(request, metadata=self.metadata(to_metadata(headers.items())))
        try:
            answer = await call
        except grpc.aio.AioRpcError as exc:
            return _failure(exc, await _initial(call))
        reply_headers = from_metadata(await _initial(call))
        data = answer.data
        if data.type_url:
            reply_headers[TYPE_URL] = data.type_url
        content = PROTOBUF if data.type_url else answer.content_type
        if content:
            reply_headers["Content-Type"] = content
        reply_headers[GRPC_STATUS] = "0"
        return Reply(200, reply_headers, data.value)

    # -- input bindings

    async def input_bindings(self, timeout: float) -> list[str]:
        """The bindings the app takes events of (ListInputBindings); none if it
        cannot say, as with daprd."""
        import grpc
        from google.protobuf import empty_pb2

        try:
            answer = await self.callback.ListInputBindings(
                empty_pb2.Empty(), metadata=self.metadata(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            log.warning("ListInputBindings failed: %s %s", exc.code().name, exc.details())
            return []
        return list(answer.bindings)

    async def binding_event(self, name: str, data: bytes, metadata: dict[str, str],
                            extra: list[tuple[str, str]]) -> Any:
        """OnBindingEvent: the app's BindingEventResponse; AioRpcError if it refused."""
        from edge.api.grpc.protos import appcallback

        request = appcallback.BindingEventRequest(name=name, data=data, metadata=metadata)
        return await self.callback.OnBindingEvent(request, metadata=self.metadata(extra))

    # -- health

    async def _probe(self, timeout: float) -> grpc.aio.AioRpcError | None:
        import grpc

        self._stub("AppCallbackStub")  # opens the channel
        assert self._channel is not None
        try:
            await self._channel.unary_unary(_PROBE)(b"", timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            return exc
        return None

    async def check_speaks_grpc(self, timeout: float = 5.0) -> None:
        """Once the app's port is open: warn when what listens there is no gRPC
        server (an app started with the wrong --app-protocol), so that the
        failures that follow are understood. The probe is a method no app has:
        a gRPC server answers UNIMPLEMENTED without running any app code (the
        SDKs' default HealthCheck logs a traceback when called)."""
        import grpc

        failed = await self._probe(timeout)
        if failed is not None and failed.code() in (
                grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.INTERNAL):
            log.warning("the app on %s does not answer gRPC (%s: %s); was it started with "
                        "--app-protocol grpc by mistake?", self.target, failed.code().name,
                        failed.details())

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stubs.clear()


_PROBE = "/edge.runtime.v1.Probe/Ping"


def _verb(verb: str) -> int:
    from edge.api.grpc.protos import common

    names = common.HTTPExtension.Verb.keys()
    return common.HTTPExtension.Verb.Value(verb.upper() if verb.upper() in names else "POST")


async def _initial(call: Any) -> list[tuple[str, Any]]:
    try:
        return list(await call.initial_metadata() or ())
    except Exception:  # a call that failed before any header has none
        return []


def _failure(exc: grpc.aio.AioRpcError, initial: list[tuple[str, Any]]) -> Reply:
    from grpc_status import rpc_status

    code = exc.code().value[0]
    found = None
    try:
        found = rpc_status.from_call(exc)
    except ValueError:  # a status whose details do not match its code and message
        pass
    details = found.details if found is not None else ()
    headers = from_metadata(initial)
    headers["Content-Type"] = "application/json"
    headers[GRPC_STATUS] = str(code)
    return Reply(http_status_of(code), headers, status_body(code, exc.details() or "", details))
