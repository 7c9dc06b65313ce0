"""The edge home folder ($EDGE_HOME, default ~/.edge): default components,
configuration, the name-resolution registry and local data."""

from __future__ import annotations

import os
from pathlib import Path


def edge_home() -> Path:
    return Path(os.environ.get("EDGE_HOME") or Path.home() / ".edge").expanduser()


def components_dir() -> Path:
    return edge_home() / "components"


def default_config() -> Path:
    return edge_home() / "config.yaml"


def registry_file() -> Path:
    return edge_home() / "nameresolution.db"
