"""The edge home folder ($EDGE_HOME, default ~/.edge): default components,
configuration, the name-resolution registry and local data."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def edge_home() -> Path:
    return Path(os.environ.get("EDGE_HOME") or Path.home() / ".edge").expanduser()


def components_dir() -> Path:
    return edge_home() / "components"


def default_config() -> Path:
    return edge_home() / "config.yaml"


def registry_file() -> Path:
    return edge_home() / "nameresolution.db"


def internal_secret() -> str:
    """The secret sidecars of this edge home show each other on the internal
    port, so that no other local process can call an app through it. Made by
    the first sidecar, readable by its user only."""
    path = edge_home() / "internal.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place, so a sidecar starting at the same
        # moment never reads a half-written file; the first link wins.
        draft = path.with_name(f".internal.key.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
