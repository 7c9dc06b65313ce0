"""Scraping a sidecar's /metrics and reading samples out of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import Spawner
from tests.harness import Sidecar, free_port


class Scrape:
    """One scrape of /metrics, parsed with prometheus_client's own parser."""

    def __init__(self, port: int) -> None:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        response.raise_for_status()
        self.content_type = response.headers["content-type"]
        self.text = response.text
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}
        self.samples: list[Sample] = [s for f in self.families.values() for s in f.samples]

    def find(self, metric: str, /, **labels: str) -> list[Sample]:
        # Positional, so that a label may be called `name` (the resiliency metrics' is).
        return [s for s in self.samples
                if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, metric: str, /, **labels: str) -> float:
        """The sum over the samples with these labels (0 when there is none)."""
        return sum(s.value for s in self.find(metric, **labels))

    def label_values(self) -> set[str]:
        return {v for s in self.samples for v in s.labels.values()}

    def types(self) -> dict[str, str]:
        """Metric name -> type, exactly as exposed (the parser renames counters)."""
        found = {}
        for line in self.text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                found[name] = kind
        return found


def with_metrics(spawn: Spawner, app_id: str, resources: Path | None = None,
                 args: list[str] | None = None, **kwargs: Any) -> tuple[Sidecar, int]:
    """A sidecar with /metrics on a free port of its own."""
    port = free_port()
    sidecar = spawn.sidecar(app_id, resources, args=["--metrics-port", str(port), *(args or [])],
                            **kwargs)
    return sidecar, port
