"""`edge init`: the default components and configuration in the edge home, the
counterpart of what `dapr init --slim` writes to ~/.dapr. The state store is
SQLite rather than Redis so that a gateway needs no other service."""

from __future__ import annotations

import json
from pathlib import Path

from edge.runtime import home

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"


def statestore_yaml(db: Path) -> str:
    # json.dumps quotes the path safely for YAML, whatever characters it holds.
    return f"""\
# The default state store, used by apps that save state to "statestore".
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: {json.dumps(str(db))}
  - name: actorStateStore
    value: "true"
"""


CONFIG_YAML = """\
# The default configuration, used when `edge run` / `edge sidecar` get no --config.
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprConfig
spec: {}
"""


def init_home(force: bool = False) -> int:
    root = home.edge_home()
    db = root / "state" / "state.db"
    # The SQLite store creates its file but not the folder holding it.
    db.parent.mkdir(parents=True, exist_ok=True)
    files = {
        home.components_dir() / "statestore.yaml": statestore_yaml(db),
        home.default_config(): CONFIG_YAML,
    }
    for path, text in files.items():
        _write(path, text, force)
    print(f"edge home is ready: {root}")
    print(f"Try the example: edge run -f {EXAMPLE}")
    return 0


def _write(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        print(f"Kept {path} (exists; --force overwrites it)")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"Wrote {path}")
