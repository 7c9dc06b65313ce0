"""Errors as values: every failure the API reports is a DaprError carrying
Dapr's error code and HTTP status. They are raised where the failure is found
and rendered to `{"errorCode", "message"}` in one place (edge.api.server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# gRPC status codes (grpc.StatusCode values) for the HTTP statuses Dapr answers with.
_GRPC_BY_HTTP = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 10, 413: 8, 429: 8, 500: 13,
                 501: 12, 503: 14, 504: 4}


@dataclass(frozen=True)
class Kind:
    code: str
    status: int
    # The gRPC status code, where Dapr's differs from the HTTP status's usual one
    # (a missing secret store is 401 over HTTP but InvalidArgument over gRPC).
    grpc: int | None = None
    # The ErrorInfo reason of Dapr's rich errors, where daprd names one that
    # does not follow from the error code (ERR_STATE_STORE_NOT_FOUND: DAPR_STATE_NOT_FOUND).
    reason: str = ""

    @property
    def grpc_code(self) -> int:
        if self.grpc is not None:
            return self.grpc
        return _GRPC_BY_HTTP.get(self.status, 13 if self.status >= 500 else 3)


class Err:
    """The Dapr error codes edge answers with, and their HTTP statuses."""

    MALFORMED_REQUEST = Kind("ERR_MALFORMED_REQUEST", 400)
    BODY_TOO_LARGE = Kind("ERR_BODY_TOO_LARGE", 413)
    UNAUTHORIZED = Kind("ERR_API_TOKEN_INVALID", 401)
    NOT_FOUND = Kind("ERR_NOT_FOUND", 404)
    METHOD_NOT_ALLOWED = Kind("ERR_METHOD_NOT_ALLOWED", 405)
    INTERNAL = Kind("ERR_INTERNAL", 500)
    HEALTH_NOT_READY = Kind("ERR_HEALTH_NOT_READY", 500)
    HEALTH_APPID_NOT_MATCH = Kind("ERR_HEALTH_APPID_NOT_MATCH", 500)
    OUTBOUND_NOT_READY = Kind("ERR_OUTBOUND_HEALTH_NOT_READY", 500)

    STATE_STORE_NOT_CONFIGURED = Kind("ERR_STATE_STORE_NOT_CONFIGURED", 500, grpc=9,
                                      reason="DAPR_STATE_NOT_CONFIGURED")
    STATE_STORE_NOT_FOUND = Kind("ERR_STATE_STORE_NOT_FOUND", 400, reason="DAPR_STATE_NOT_FOUND")
    STATE_GET = Kind("ERR_STATE_GET", 500)
    STATE_SAVE = Kind("ERR_STATE_SAVE", 500)
    STATE_DELETE = Kind("ERR_STATE_DELETE", 500)
    STATE_BULK_GET = Kind("ERR_STATE_BULK_GET", 500)
    STATE_TRANSACTION = Kind("ERR_STATE_TRANSACTION", 500)
    STATE_QUERY = Kind("ERR_STATE_QUERY", 500, reason="DAPR_STATE_QUERY_FAILED")
    STATE_STORE_NOT_SUPPORTED = Kind("ERR_STATE_STORE_NOT_SUPPORTED", 500)
    STATE_TRANSACTIONS_NOT_SUPPORTED = Kind("ERR_STATE_STORE_NOT_SUPPORTED", 500, grpc=12)
    STATE_ETAG_MISMATCH = Kind("ERR_STATE_SAVE", 409)
    STATE_ETAG_INVALID = Kind("ERR_STATE_SAVE", 400)
    STATE_DELETE_ETAG_MISMATCH = Kind("ERR_STATE_DELETE", 409)
    STATE_DELETE_ETAG_INVALID = Kind("ERR_STATE_DELETE", 400)
    STATE_OPERATION_NOT_SUPPORTED = Kind("ERR_NOT_SUPPORTED_STATE_OPERATION", 400, grpc=12)
    # DeleteBulkState (gRPC only).
    STATE_BULK_DELETE = Kind("ERR_STATE_BULK_DELETE", 500)
    STATE_BULK_DELETE_ETAG_MISMATCH = Kind("ERR_STATE_BULK_DELETE", 409)
    STATE_BULK_DELETE_ETAG_INVALID = Kind("ERR_STATE_BULK_DELETE", 400)

    SECRET_STORES_NOT_CONFIGURED = Kind("ERR_SECRET_STORES_NOT_CONFIGURED", 500, grpc=9)
    SECRET_STORE_NOT_FOUND = Kind("ERR_SECRET_STORE_NOT_FOUND", 401, grpc=3)
    SECRET_GET = Kind("ERR_SECRET_GET", 500)
    # Secret scopes of the Configuration file (daprd pkg/messages ErrSecretPermissionDenied).
    SECRET_PERMISSION_DENIED = Kind("ERR_PERMISSION_DENIED", 403)

    DIRECT_INVOKE = Kind("ERR_DIRECT_INVOKE", 500)
    DIRECT_INVOKE_NO_APP_ID = Kind("ERR_DIRECT_INVOKE", 404)
    DIRECT_INVOKE_TIMEOUT = Kind("ERR_DIRECT_INVOKE", 504)
    # spec.accessControl: daprd maps the callee's gRPC PermissionDenied to 403.
    DIRECT_INVOKE_PERMISSION_DENIED = Kind("ERR_DIRECT_INVOKE", 403)
    APP_CHANNEL_NIL = Kind("ERR_APP_CHANNEL_NIL", 500)

    # Over gRPC, daprd answers these InvalidArgument (pkg/api/errors/pubsub.go).
    PUBSUB_EMPTY = Kind("ERR_PUBSUB_EMPTY", 404, grpc=3, reason="DAPR_PUBSUB_NAME_EMPTY")
    PUBSUB_NOT_FOUND = Kind("ERR_PUBSUB_NOT_FOUND", 404, grpc=3, reason="DAPR_PUBSUB_NOT_FOUND")
    TOPIC_NAME_EMPTY = Kind("ERR_TOPIC_NAME_EMPTY", 404, grpc=3,
                            reason="DAPR_PUBSUB_TOPIC_NAME_EMPTY")
    PUBSUB_FORBIDDEN = Kind("ERR_PUBSUB_FORBIDDEN", 403)
    PUBSUB_PUBLISH_MESSAGE = Kind("ERR_PUBSUB_PUBLISH_MESSAGE", 500)
    PUBSUB_REQUEST_METADATA = Kind("ERR_PUBSUB_REQUEST_METADATA", 400)
    PUBSUB_CLOUD_EVENTS_SER = Kind("ERR_PUBSUB_CLOUD_EVENTS_SER", 500, grpc=3)
    PUBSUB_EVENTS_SER = Kind("ERR_PUBSUB_EVENTS_SER", 400)

    INVOKE_OUTPUT_BINDING = Kind("ERR_INVOKE_OUTPUT_BINDING", 500)

    # Configuration (statuses as daprd's pkg/api/http answers them).
    CONFIGURATION_STORE_NOT_CONFIGURED = Kind("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", 500,
                                              grpc=9)
    CONFIGURATION_STORE_NOT_FOUND = Kind("ERR_CONFIGURATION_STORE_NOT_FOUND", 400)
    CONFIGURATION_GET = Kind("ERR_CONFIGURATION_GET", 500)
    CONFIGURATION_SUBSCRIBE = Kind("ERR_CONFIGURATION_SUBSCRIBE", 500, grpc=3)
    CONFIGURATION_UNSUBSCRIBE = Kind("ERR_CONFIGURATION_UNSUBSCRIBE", 500)

    # Actors
    ACTOR_RUNTIME_NOT_FOUND = Kind("ERR_ACTOR_RUNTIME_NOT_FOUND", 500)
    ACTOR_INSTANCE_MISSING = Kind("ERR_ACTOR_INSTANCE_MISSING", 400)
    ACTOR_INVOKE_METHOD = Kind("ERR_ACTOR_INVOKE_METHOD", 500)
    ACTOR_STATE_GET = Kind("ERR_ACTOR_STATE_GET", 500)
    ACTOR_STATE_TRANSACTION_SAVE = Kind("ERR_ACTOR_STATE_TRANSACTION_SAVE", 500)
    ACTOR_REMINDER_CREATE = Kind("ERR_ACTOR_REMINDER_CREATE", 500)
    ACTOR_REMINDER_GET = Kind("ERR_ACTOR_REMINDER_GET", 500)
    ACTOR_REMINDER_DELETE = Kind("ERR_ACTOR_REMINDER_DELETE", 500)
    ACTOR_TIMER_CREATE = Kind("ERR_ACTOR_TIMER_CREATE", 500)

    # Distributed lock (daprd pkg/messages: empty fields are ERR_MALFORMED_REQUEST, 400).
    LOCK_STORE_NOT_CONFIGURED = Kind("ERR_LOCK_STORE_NOT_CONFIGURED", 500, grpc=9)
    LOCK_STORE_NOT_FOUND = Kind("ERR_LOCK_STORE_NOT_FOUND", 400)
    TRY_LOCK = Kind("ERR_TRY_LOCK", 500)
    UNLOCK = Kind("ERR_UNLOCK", 500)


class DaprError(Exception):
    """A failure the API reports to the client as Dapr does."""

    def __init__(self, kind: Kind, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        # Further members of the error body, as some Dapr errors carry
        # (bulk publish lists its failedEntries).
        self.details = details or {}

    @property
    def status(self) -> int:
        return self.kind.status

    def body(self) -> dict[str, Any]:
        return {**self.details, "errorCode": self.kind.code, "message": self.message}


class ConfigError(Exception):
    """A resource file (component, configuration) that cannot be used.

    The message always names the file, and where it applies the component and
    the field, so an operator can fix it without reading code."""

    def __init__(self, message: str, *, file: str | None = None,
                 component: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.component = component
        self.field = field
        self.reason = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.component:
            where.append(f"component {self.component!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def within(self, *, file: str | None = None, component: str | None = None) -> ConfigError:
        """The same error, with the file and component filled in where missing."""
        return ConfigError(self.reason, file=self.file or file,
                           component=self.component or component, field=self.field)
