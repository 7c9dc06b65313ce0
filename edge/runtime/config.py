"""The Configuration resource (`kind: Configuration`, given with --config).
This version reads what the runtime acts on today: the enabled features.
Other sections are kept for the building blocks that will use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.runtime.loader import read_documents


@dataclass
class Configuration:
    name: str = "default"
    spec: dict[str, Any] = field(default_factory=dict)
    file: str | None = None

    @property
    def features(self) -> list[str]:
        items = self.spec.get("features") or []
        if not isinstance(items, list):
            raise ConfigError("spec.features must be a list of {name, enabled}",
                              file=self.file, field="spec.features")
        found = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "name" not in item:
                raise ConfigError("each feature needs a name", file=self.file,
                                  field=f"spec.features[{index}]")
            # As in Dapr, a feature is on only when it says so: `enabled` defaults to false.
            if str(item.get("enabled", False)).lower() == "true":
                found.append(str(item["name"]))
        return found


def load_configuration(path: str) -> Configuration:
    file = Path(path).expanduser()
    configs = [d for d in read_documents(file) if d.get("kind") == "Configuration"]
    if not configs:
        raise ConfigError("no document of kind Configuration", file=str(file), field="kind")
    doc = configs[0]
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise ConfigError("spec must be a mapping", file=str(file), field="spec")
    meta = doc.get("metadata")
    name = meta.get("name", "default") if isinstance(meta, dict) else "default"
    config = Configuration(str(name), spec, str(file))
    config.features  # noqa: B018 - validated at load, not at first use
    return config
