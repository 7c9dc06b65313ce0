"""The app's actor settings, as it answers `GET /dapr/config`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from edge.components.metadata import parse_duration

log = logging.getLogger("edge.runtime.actors")


@dataclass(frozen=True)
class TypeSettings:
    """Dapr's defaults: an hour of idleness, a minute to drain a call."""

    idle_timeout: float = 3600.0
    drain_timeout: float = 60.0
    drain: bool = True
    reentrancy: bool = False
    max_stack_depth: int = 32


@dataclass
class ActorConfig:
    entities: list[str] = field(default_factory=list)
    scan_interval: float = 30.0
    types: dict[str, TypeSettings] = field(default_factory=dict)

    def settings(self, actor_type: str) -> TypeSettings:
        return self.types.get(actor_type, TypeSettings())


def _duration(body: dict[str, Any], name: str, default: float) -> float:
    raw = body.get(name)
    if raw in (None, ""):
        return default
    try:
        seconds = parse_duration(str(raw))
    except ValueError as exc:
        log.warning("/dapr/config: %s: %s; using %gs", name, exc, default)
        return default
    return seconds if seconds > 0 else default


def _settings(body: dict[str, Any], base: TypeSettings) -> TypeSettings:
    reentrancy = body.get("reentrancy") if isinstance(body.get("reentrancy"), dict) else {}
    depth = reentrancy.get("maxStackDepth", base.max_stack_depth)
    return replace(
        base,
        idle_timeout=_duration(body, "actorIdleTimeout", base.idle_timeout),
        drain_timeout=_duration(body, "drainOngoingCallTimeout", base.drain_timeout),
        drain=bool(body.get("drainRebalancedActors", base.drain)),
        reentrancy=bool(reentrancy.get("enabled", base.reentrancy)),
        max_stack_depth=depth if isinstance(depth, int) and depth > 0 else base.max_stack_depth,
    )


def parse_config(body: Any) -> ActorConfig:
    """What the app said; anything unreadable falls back to Dapr's defaults."""
    if not isinstance(body, dict):
        return ActorConfig()
    entities = [e for e in body.get("entities") or [] if isinstance(e, str) and e]
    common = _settings(body, TypeSettings())
    types = dict.fromkeys(entities, common)
    for entry in body.get("entitiesConfig") or []:
        if not isinstance(entry, dict):
            continue
        own = _settings(entry, common)
        for name in entry.get("entities") or []:
            if name in types:
                types[name] = own
    return ActorConfig(entities, _duration(body, "actorScanInterval", 30.0), types)
