"""The API allow and deny lists of the Configuration file (`spec.api`), for
the HTTP API (rules with `protocol: http`) and the gRPC API (`protocol: grpc`).

daprd applies them when it builds its router: an API that is not allowed is
simply not routed, so a call to it falls through to what serves unknown
paths — service invocation by `dapr-app-id` header when the invoke API is
allowed, a bare 404 otherwise. This middleware answers the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from edge.errors import DaprError, Err
from edge.runtime.config import ApiRule, ApiSpec

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# daprd names endpoint groups by a short version; rules may use either form.
_GROUP_VERSIONS = {"v1.0": "v1", "v1.0-alpha1": "v1alpha1", "v1.0-alpha2": "v1alpha2",
                   "v1.0-beta1": "v1beta1"}
# Health probes stay reachable whatever the lists say, as in daprd.
_ALWAYS_ALLOWED = frozenset({"healthz"})
# What daprd routes header-based invocation as (its fallback endpoint).
_INVOKE_ENDPOINT = ("v1.0", "invoke/{id}/method/{method}")


def _endpoint(request: web.Request) -> tuple[str, str] | None:
    """(version, route) of the API the request was routed to; None if none."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    canonical = resource.canonical.lstrip("/")
    version, _, route = canonical.partition("/")
    if version not in _GROUP_VERSIONS:
        # The catch-all that serves any other path with a dapr-app-id header.
        return _INVOKE_ENDPOINT
    return version, route


def _matches(endpoint: tuple[str, str], rules: tuple[ApiRule, ...]) -> bool:
    version, route = endpoint
    group = f"{_GROUP_VERSIONS[version]}/{route.split('/', 1)[0]}"
    for rule in rules:
        key = f"{rule.version}/{rule.name}"
        # A rule names a group (`v1` + `state`) or, as older daprd did, a
        # prefix of the versioned route (`v1.0` + `state`).
        if key == group or f"{version}/{route}".startswith(key):
            return True
    return False


def _allowed(endpoint: tuple[str, str], allowed: tuple[ApiRule, ...],
             denied: tuple[ApiRule, ...]) -> bool:
    if endpoint[1].split("/", 1)[0] in _ALWAYS_ALLOWED:
        return True
    if denied and _matches(endpoint, denied):
        return False
    return not allowed or _matches(endpoint, allowed)


def api_access(sidecar: Sidecar) -> Callable[..., Awaitable[web.StreamResponse]]:
    from edge.api.invoke import invoke_by_header

    api = sidecar.config.api
    allowed, denied = api.http_rules(api.allowed), api.http_rules(api.denied)
    invoke_allowed = _allowed(_INVOKE_ENDPOINT, allowed, denied)
    where = f"spec.api of {sidecar.config.file}"

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = _endpoint(request)
        if endpoint is None or _allowed(endpoint, allowed, denied):
            return await handler(request)
        name = endpoint[1].split("/", 1)[0]
        if not invoke_allowed:
            raise DaprError(Err.NOT_FOUND, f"no API at {request.method} {request.path}: the "
                            f"{name} API is not allowed ({where})")
        if request.headers.get("dapr-app-id"):
            return await invoke_by_header(request)
        raise DaprError(Err.DIRECT_INVOKE_NO_APP_ID, "failed getting app id either from the URL "
                        f"path or the header dapr-app-id ({request.method} {request.path}; the "
                        f"{name} API is not allowed by {where})")

    return check


# The gRPC API's groups, by method, as daprd's allow lists name them.
_GRPC_GROUPS = {
    "state": ("GetState", "GetBulkState", "SaveState", "DeleteState", "DeleteBulkState",
              "ExecuteStateTransaction", "QueryStateAlpha1"),
    "invoke": ("InvokeService",),
    "publish": ("PublishEvent", "BulkPublishEventAlpha1", "BulkPublishEvent"),
    "subscribe": ("SubscribeTopicEventsAlpha1",),
    "bindings": ("InvokeBinding",),
    "secrets": ("GetSecret", "GetBulkSecret"),
    "actors": ("InvokeActor", "GetActorState", "ExecuteActorStateTransaction",
               "RegisterActorTimer", "UnregisterActorTimer", "RegisterActorReminder",
               "UnregisterActorReminder", "GetActorReminder", "ListActorReminders",
               "UnregisterActorRemindersByType"),
    "metadata": ("GetMetadata", "SetMetadata"),
    "shutdown": ("Shutdown",),
    "configuration": ("GetConfiguration", "GetConfigurationAlpha1", "SubscribeConfiguration",
                      "SubscribeConfigurationAlpha1", "UnsubscribeConfiguration",
                      "UnsubscribeConfigurationAlpha1"),
    "lock": ("TryLockAlpha1",),
    "unlock": ("UnlockAlpha1",),
}
_GRPC_GROUP_OF = {method: group for group, methods in _GRPC_GROUPS.items() for method in methods}


def _grpc_matches(method: str, rules: tuple[ApiRule, ...]) -> bool:
    group = _GRPC_GROUP_OF.get(method, method)
    version = "v1alpha1" if method.endswith("Alpha1") else "v1"
    return any(rule.name == group and rule.version in (version, "") for rule in rules)


def grpc_allowed(method: str, api: ApiSpec) -> bool:
    """Whether spec.api lets the gRPC method be called (health is never listed)."""
    allowed, denied = api.grpc_rules(api.allowed), api.grpc_rules(api.denied)
    if denied and _grpc_matches(method, denied):
        return False
    return not allowed or _grpc_matches(method, allowed)
