"""Actor hosts for the tests: tests/actors/apps/actor_app.py with its sidecar,
sharing one edge home (so they find each other) and one SQLite state store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Spawner
from tests.harness import Process, Sidecar, free_port, wait_http, write_component

APP = Path(__file__).parent / "apps" / "actor_app.py"


@dataclass
class Host:
    app: Process
    app_port: int
    sidecar: Sidecar
    http: httpx.Client

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        found = httpx.get(f"http://127.0.0.1:{self.app_port}/events", timeout=5).json()
        return [e for e in found if kind is None or e["kind"] == kind]

    def call(self, actor_type: str, actor_id: str, method: str, body: Any = None,
             **kwargs: Any) -> httpx.Response:
        return self.http.post(f"/v1.0/actors/{actor_type}/{actor_id}/method/{method}",
                              json=body if body is not None else {}, **kwargs)


def actor_resources(folder: Path, db: Path) -> Path:
    write_component(folder, "actorstore", "state.sqlite",
                    {"connectionString": str(db), "actorStateStore": "true"})
    return folder


@pytest.fixture
def host(spawn: Spawner, tmp_path: Path) -> Callable[..., Host]:
    """Starts an actor app and its sidecar; all of one test share home and store."""
    resources = actor_resources(tmp_path / "resources", tmp_path / "actors.db")

    def start(types: str = "Device", resources_path: Path | None = resources,
              **env: str) -> Host:
        app_port, http_port = free_port(), free_port()
        app = spawn.track(Process(
            [sys.executable, str(APP), str(app_port)], tmp_path / f"actor-app-{app_port}.log",
            {"ACTOR_TYPES": types, "DAPR_HTTP_PORT": str(http_port), **env}, cwd=tmp_path))
        wait_http(f"http://127.0.0.1:{app_port}/healthz", proc=app.proc, expect=(200,))
        sidecar = spawn.sidecar(f"actors{app_port}", resources_path, app_port=app_port,
                                http_port=http_port, wait="ready")
        return Host(app, app_port, sidecar, sidecar.client())

    return start
