"""Pub/sub test helpers: the subscriber app, resource files, and waiting for
what the app received."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.harness import Process, free_port, wait_http, wait_until

SUBSCRIBER = Path(__file__).parent / "apps" / "subscriber.py"
WAIT = 10.0


def new_topic(prefix: str) -> str:
    """A topic no other test uses, so tests can share a sidecar."""
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


class Subscriber(Process):
    """tests/pubsub/apps/subscriber.py on a port of its own (or the one given)."""

    def __init__(self, workdir: Path, subscriptions: list[dict[str, Any]] | None,
                 answers: dict[str, list[str]] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"subscriptions": subscriptions, "answers": answers or {}}
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, str(SUBSCRIBER), str(self.port)],
                         workdir / f"subscriber-{self.port}-{time.monotonic_ns()}.log",
                         {"SUBSCRIBER_CONFIG": json.dumps(config)}, cwd=workdir)
        try:
            wait_http(self.url + "/healthz", proc=self.proc, expect=(200,))
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"subscriber did not start: {exc}\n{self.output()}") from None

    def received(self, topic: str | None = None) -> list[dict[str, Any]]:
        params = {"topic": topic} if topic is not None else {}
        return httpx.get(self.url + "/received", params=params, timeout=5).json()

    def wait_for(self, count: int, topic: str | None = None, path: str | None = None,
                 timeout: float = WAIT) -> list[dict[str, Any]]:
        """The first `count` deliveries (on that path, if given); fails if they do not come."""
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            found[:] = [r for r in self.received(topic) if path is None or r["path"] == path]
            return len(found) >= count

        wait_until(enough, timeout, lambda: f"{count} deliveries of {topic} at "
                   f"{path or 'any path'}; got {found}")
        return found[:count]

    def answer(self, topic: str, *answers: str) -> None:
        httpx.post(self.url + "/control/answers", json={"topic": topic, "answers": answers},
                   timeout=5).raise_for_status()


def subscription_doc(name: str, pubsub: str, topic: str, *, version: str = "v2alpha1",
                     scopes: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": f"dapr.io/{version}", "kind": "Subscription", "metadata": {"name": name},
        "spec": {"pubsubname": pubsub, "topic": topic, **spec}}
    if scopes is not None:
        doc["scopes"] = scopes
    return doc


def write_docs(path: Path, *docs: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def in_memory(name: str, **metadata: Any) -> dict[str, Any]:
    """A pubsub.in-memory Component document."""
    return {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": name},
            "spec": {"type": "pubsub.in-memory", "version": "v1",
                     "metadata": [{"name": k, "value": str(v)} for k, v in metadata.items()]}}


# Quick redeliveries, so retry tests take tenths of a second, not seconds.
FAST = {"backOffInitialInterval": "20ms", "backOffMaxInterval": "200ms"}
