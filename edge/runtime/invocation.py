"""Service invocation: a call for app X goes to the own app when X is this
sidecar's app, otherwise to X's sidecar over the internal channel, which
hands it to its app. Status, headers and body come back untouched."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing
from edge.runtime.appgrpc import PRIVATE, PROTOBUF, TYPE_URL
from edge.runtime.channel import ChannelError, Reply, unsent
from edge.runtime.resiliency import SERVICE_RETRIES, BreakerOpen, PolicyTimeout, http_failure

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.invocation")

INTERNAL_PREFIX = "/v1.0-internal/invoke/"
CALLER = "dapr-caller-app-id"
CALLEE = "dapr-callee-app-id"
# Proves a call on the internal port comes from a sidecar of this edge home.
INTERNAL_TOKEN = "edge-internal-token"
# Marks an answer of the called sidecar itself (a DaprError), not of its app, so
# that a gRPC caller gets the error's status rather than an app's HTTP status.
SIDECAR_ERROR = "edge-sidecar-error"
# The verb of a call that cannot travel as an HTTP method between sidecars.
VERB = "edge-verb"
# Headers only edge's sidecars exchange; never taken from or shown to a caller.
PRIVATE_HEADERS = (*PRIVATE, SIDECAR_ERROR, VERB)
# Verbs no HTTP request to an app can have: NONE is what a gRPC call without an
# http_extension names (daprd refuses both for HTTP apps; gRPC apps take them).
_NO_HTTP_VERB = frozenset({"NONE", "CONNECT"})


def normalize_method(method: str) -> str:
    """The method path without dot segments, so a caller cannot climb out of
    the app's routes; control characters are refused as Dapr refuses them."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in method):
        raise DaprError(Err.DIRECT_INVOKE, "invalid method: method contains a control character")
    parts: list[str] = []
    for part in method.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def without_private(headers: CIMultiDict[str]) -> CIMultiDict[str]:
    for name in PRIVATE_HEADERS:
        headers.popall(name, None)
    return headers


def _target_id(sidecar: Sidecar, app_id: str) -> str:
    """The app id without this sidecar's namespace suffix (`app.namespace`)."""
    namespace = sidecar.options.namespace or "default"
    suffix = "." + namespace
    return app_id[: -len(suffix)] if app_id.endswith(suffix) else app_id


def _failed(app_id: str, reason: str, timeout: bool = False) -> DaprError:
    kind = Err.DIRECT_INVOKE_TIMEOUT if timeout else Err.DIRECT_INVOKE
    return DaprError(kind, f"failed to invoke, id: {app_id}, err: {reason}")


async def invoke(sidecar: Sidecar, app_id: str, verb: str, path: str, query: str,
                 headers: CIMultiDict[str], body: bytes) -> Reply:
    """Invoke `path` (already URL-encoded, no leading slash) on app_id."""
    target = _target_id(sidecar, app_id)
    if not target:
        raise DaprError(Err.MALFORMED_REQUEST, "app id is empty")
    headers[CALLER] = sidecar.options.app_id
    policy = sidecar.resiliency.app(target)
    try:
        if target == sidecar.options.app_id:
            headers[CALLEE] = target
            return await policy.run(
                lambda: call_app(sidecar, verb, path, query, headers.copy(), body), _failed_reply)
        start = metrics.invocation_sent(target)
        reply = await policy.run(
            lambda: _call_peer(sidecar, target, verb, path, query, headers.copy(), body),
            _failed_reply)
    except BreakerOpen as exc:
        raise _failed(target, str(exc)) from None
    except PolicyTimeout as exc:
        raise _failed(target, str(exc), timeout=True) from None
    # As in Dapr, a call that got no answer counts as sent but not as answered.
    metrics.invocation_answered(target, reply.status, start)
    return reply


def _failed_reply(reply: Reply) -> int | None:
    return http_failure(reply.status)


async def call_app(sidecar: Sidecar, verb: str, path: str, query: str,
                   headers: CIMultiDict[str], body: bytes) -> Reply:
    """Deliver one call to this sidecar's own app."""
    app_id = sidecar.options.app_id
    if sidecar.options.app_port is None:
        raise DaprError(Err.APP_CHANNEL_NIL, f"failed to invoke, id: {app_id}, err: "
                        "app channel not initialized (the sidecar was started without --app-port)")
    headers[CALLEE] = app_id
    context = tracing.current.get()
    if context is not None:
        # Dapr always hands the app the context of the span that calls it.
        context.inject(headers)
    if sidecar.app_grpc is not None:
        # The token travels as call metadata, added by the channel.
        return await sidecar.app_grpc.invoke(verb, path, query, headers, body)
    if verb in _NO_HTTP_VERB:
        # A gRPC caller that gave no http_extension.verb, as for a gRPC app.
        raise _failed(app_id, "the app speaks HTTP and the call has no HTTP verb "
                      "(set http_extension.verb)")
    if headers.pop(TYPE_URL, ""):
        # Data a gRPC caller sent as a typed Any: a protobuf message, as daprd says.
        headers["Content-Type"] = PROTOBUF
    headers.update(sidecar.app_headers())
    url = f"{sidecar.app_url}/{path}" + (f"?{query}" if query else "")
    try:
        return await sidecar.app.request(verb, url, headers, body)
    except ChannelError as exc:
        raise _failed(app_id, f"the app did not answer: {exc}", exc.timeout) from None


async def _call_peer(sidecar: Sidecar, app_id: str, verb: str, path: str, query: str,
                     headers: CIMultiDict[str], body: bytes) -> Reply:
    headers[INTERNAL_TOKEN] = sidecar.internal_secret
    if verb in _NO_HTTP_VERB:
        # Carried in a header: the peer's HTTP server takes only real methods.
        headers[VERB] = verb
        verb = "POST"
    span = tracing.start_span(tracing.CALL_LOCAL, tracing.CLIENT, tracing.current.get(),
                              rpc__service="ServiceInvocation", net__peer__name=app_id,
                              dapr__invoke_method=path)
    if span is None:
        return await _peer_attempts(sidecar, app_id, verb, path, query, headers, body)
    span.remote_service = app_id
    span.context.inject(headers)
    status = 500
    try:
        reply = await _peer_attempts(sidecar, app_id, verb, path, query, headers, body)
        status = reply.status
        return reply
    finally:
        tracing.finish(span, status)


async def _peer_attempts(sidecar: Sidecar, app_id: str, verb: str, path: str, query: str,
                         headers: CIMultiDict[str], body: bytes) -> Reply:
    """Dapr's built-in retries: a sidecar that could not be reached (it may
    have just gone, and its address with it) is looked up afresh and tried again."""
    attempts = 0

    async def attempt() -> Reply:
        nonlocal attempts
        attempts += 1
        entry = await sidecar.registry.resolve(app_id, fresh=attempts > 1)
        if entry is None:
            raise _failed(app_id, f"couldn't find service: {app_id} (no running sidecar "
                          "has registered it on this host)")
        url = f"http://{entry.host}:{entry.internal_port}{INTERNAL_PREFIX}{path}"
        if query:
            url += "?" + query
        return await sidecar.peers.request(verb, url, headers.copy(), body)

    retries = sidecar.resiliency.built_in(SERVICE_RETRIES, ("app", app_id))
    try:
        return await retries.run(attempt, retryable=unsent)
    except ChannelError as exc:
        raise _failed(app_id, f"the sidecar of {app_id} did not answer: {exc}",
                      exc.timeout) from None
