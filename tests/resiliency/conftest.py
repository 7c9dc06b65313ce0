"""Resiliency tests: a caller sidecar, and a flaky app behind a sidecar of its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.actors.conftest import host  # noqa: F401 (the actor hosts fixture, shared)
from tests.conftest import Spawner
from tests.harness import App, Sidecar
from tests.metrics.helpers import Scrape, with_metrics


def write_resiliency(folder: Path, spec: dict[str, Any], name: str = "myresiliency",
                     scopes: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency",
                           "metadata": {"name": name}, "spec": spec}
    if scopes is not None:
        doc["scopes"] = scopes
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class Pair:
    """caller (no app, metrics scraped) -> server (the flaky app)."""

    caller: Sidecar
    metrics_port: int
    server: Sidecar
    app: App

    def invoke(self, method: str, verb: str = "POST") -> httpx.Response:
        return httpx.request(verb, f"{self.caller.url}/v1.0/invoke/server/method/{method}",
                             timeout=30)

    def calls(self, path: str) -> int:
        return int(httpx.get(f"{self.app.url}/calls", params={"path": path}).json()["calls"])

    def metric(self, metric: str, **labels: str) -> float:
        return Scrape(self.metrics_port).value(metric, **labels)


@pytest.fixture
def pair(spawn: Spawner, tmp_path: Path) -> Any:
    def start(spec: dict[str, Any], scopes: list[str] | None = None) -> Pair:
        folder = tmp_path / "resources"
        write_resiliency(folder, spec, scopes=scopes)
        app = spawn.app("flaky_app.py")
        server = spawn.sidecar("server", folder, app_port=app.port)
        caller, port = with_metrics(spawn, "caller", folder)
        return Pair(caller, port, server, app)

    return start
