"""Access control for service invocation (`spec.accessControl`), applied by
the CALLEE's sidecar to calls arriving on the internal channel.

daprd learns the caller's identity (trust domain, namespace, app id) from its
mTLS certificate. In edge the internal token proves the caller is a sidecar of
the same edge home, which sets `dapr-caller-app-id` itself (an app cannot
forge it), so the header is trusted. An edge home is one namespace (the
callee's NAMESPACE, else "default") and one trust domain (the callee's
`accessControl.trustDomain`, else "public")."""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from urllib.parse import unquote

from edge.errors import DaprError, Err
from edge.runtime.config import ALLOW, DENY, AccessControlSpec, AclOperation, AclPolicy

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.acl")

DEFAULT_TRUST_DOMAIN = "public"


def _operation_matches(pattern: str, operation: list[str]) -> bool:
    """Dapr's operation names: `*` is one path segment, `**` any number of
    them (at least one), globs work within a segment, and a name without a
    trailing wildcard also covers the paths below it (`/op1` covers `/op1/x`)."""
    parts = [p for p in pattern.lower().split("/") if p]
    for index, part in enumerate(parts):
        if index >= len(operation):
            return False
        if part == "**":
            return True
        if part != "*" and not fnmatchcase(operation[index], part):
            return False
    return not parts or parts[-1] != "*" or len(operation) == len(parts)


def _find_operation(policy: AclPolicy, operation: list[str]) -> AclOperation | None:
    return next((op for op in policy.operations if _operation_matches(op.name, operation)), None)


def decide(spec: AccessControlSpec, caller: str, namespace: str, path: str,
           verb: str) -> tuple[bool, str]:
    """Whether `caller` may call `path` with `verb`, and the SPIFFE-like id
    Dapr names the caller by in its denial message."""
    trust_domain = spec.trust_domain or DEFAULT_TRUST_DOMAIN
    identity = f"spiffe://{trust_domain}/ns/{namespace}/{caller}"
    if not spec.configured:
        return True, identity
    # Without a global default, Dapr takes the safer side.
    action = spec.default_action or DENY
    # As in Dapr, of several policies for one app and namespace the last counts.
    policy = next((p for p in reversed(spec.policies) if p.app_id == caller
                   and p.namespace in ("", namespace)), None)
    if policy is not None and policy.trust_domain == trust_domain:
        if policy.default_action:
            action = policy.default_action
        # Operations match case-insensitively for HTTP, on the decoded path, so
        # `%2F` or upper case cannot walk around a deny rule.
        operation = [p for p in unquote(path.split("?", 1)[0]).lower().split("/") if p]
        found = _find_operation(policy, operation)
        if found is not None:
            verbs = found.http_verbs
            if verb.upper() in verbs or "*" in verbs:
                action = found.action
    return action == ALLOW, identity


def authorize(sidecar: Sidecar, caller: str, verb: str, path: str) -> None:
    """Raise Dapr's denial unless this sidecar's access control lets the call in."""
    spec = sidecar.config.access_control
    if not spec.configured:
        return
    namespace = sidecar.options.namespace or "default"
    allowed, identity = decide(spec, caller, namespace, path, verb)
    if not allowed:
        operation = "/" + path.split("?", 1)[0].lstrip("/")
        reason = (f"access control policy has denied access to id: {identity} "
                  f"operation: {operation} verb: {verb.upper()}")
        log.debug("%s", reason)
        raise DaprError(Err.DIRECT_INVOKE_PERMISSION_DENIED,
                        f"failed to invoke, id: {sidecar.options.app_id}, err: {reason}")
