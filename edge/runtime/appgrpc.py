"""The channel to an app started with --app-protocol grpc: one gRPC connection,
reused by every call, to the app's dapr.proto.runtime.v1.AppCallback services
(invocation, topic events, binding events, health)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc


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
                self._channel = grpc.aio.insecure_channel(self.target)
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

    @property
    def health(self) -> Any:
        """AppCallbackHealthCheck: HealthCheck."""
        return self._stub("AppCallbackHealthCheckStub")

    def metadata(self, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        """Call metadata: the app token (as Dapr sends it), then any extra pairs."""
        found = [("dapr-api-token", self.app_token)] if self.app_token else []
        return found + list(extra or [])

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stubs.clear()
