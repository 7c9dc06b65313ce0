"""What every component has, whatever its building block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from edge.components.metadata import Field


@dataclass(frozen=True)
class ComponentContext:
    """What a component may know about the sidecar that hosts it."""

    app_id: str
    namespace: str
    home: Path


class Component:
    """A loaded component. Subclasses declare `type_name`, `block` and
    `fields`; optional abilities are mixins that declare a `feature`."""

    type_name: ClassVar[str]
    block: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]] = ()
    description: ClassVar[str] = ""

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        self.name = name
        self.meta = meta
        self.ctx = ctx
        self.version = "v1"

    async def init(self) -> None:
        """Open connections and files; raise ConfigError or OSError on failure."""

    async def close(self) -> None:
        """Release what init took."""

    def status(self) -> dict[str, Any]:
        """Live facts shown in /v1.0/metadata (an outbox's depth, a connection's state)."""
        return {}

    def features(self) -> list[str]:
        """Capability names for /v1.0/metadata, from the abilities opted into."""
        found: list[str] = []
        for cls in type(self).__mro__:
            feature = cls.__dict__.get("feature")
            if isinstance(feature, str) and feature not in found:
                found.append(feature)
        return found
