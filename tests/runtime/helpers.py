"""Helpers shared by the runtime, API and secrets tests: resource files as a
user writes them, and sidecars expected to refuse to start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from tests.conftest import Spawner

EXIT_TIMEOUT = 15.0


def component_doc(name: str, ctype: str, metadata: dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A Component document; `extra` keys go to the top level for auth/scopes,
    to spec for anything else (ignoreErrors, initTimeout, version)."""
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": name},
        "spec": {"type": ctype, "version": "v1",
                 "metadata": [{"name": k, "value": v} for k, v in (metadata or {}).items()]},
    }
    for key, value in extra.items():
        (doc if key in ("auth", "scopes", "apiVersion", "kind") else doc["spec"])[key] = value
    return doc


def write_docs(path: Path, *docs: dict[str, Any]) -> Path:
    """One YAML file holding the documents, `---` between them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def failed_start(spawn: Spawner, resources: Path | None = None, *args: str,
                 env: dict[str, str] | None = None) -> str:
    """Start `edge sidecar` expecting it to give up; its output, for asserts."""
    sidecar = spawn.sidecar("app", resources, wait="", args=args, env=env)
    code = sidecar.proc.wait(EXIT_TIMEOUT)
    output = sidecar.output()
    assert code != 0, f"sidecar started although it should not have:\n{output}"
    return output
