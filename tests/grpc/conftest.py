"""gRPC tests: real sidecars, and the official Dapr Python SDK (`dapr`) as the client."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("DAPR_SKIP_LEGACY_CHECK", "1")

from dapr.clients import DaprClient
from dapr.conf import settings

from tests.actors.conftest import host  # noqa: F401 (actor hosts, for test_actors)
from tests.harness import Sidecar
from tests.tracing.conftest import collector  # noqa: F401 (the Zipkin collector fixture)


@pytest.fixture
def client_for() -> Iterator[Callable[..., DaprClient]]:
    """A DaprClient talking gRPC to a sidecar, as an app with DAPR_GRPC_PORT set would."""
    opened: list[DaprClient] = []
    saved = (settings.DAPR_HTTP_PORT, settings.DAPR_GRPC_PORT, settings.DAPR_API_TOKEN)

    def make(sidecar: Sidecar, token: str | None = None, **kwargs: Any) -> DaprClient:
        # The SDK waits for the sidecar's HTTP health endpoint, read from its settings.
        settings.DAPR_HTTP_PORT = sidecar.http_port
        settings.DAPR_GRPC_PORT = sidecar.grpc_port
        settings.DAPR_API_TOKEN = token
        client = DaprClient(address=f"127.0.0.1:{sidecar.grpc_port}", **kwargs)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
    settings.DAPR_HTTP_PORT, settings.DAPR_GRPC_PORT, settings.DAPR_API_TOKEN = saved
