"""Reading resource files: every *.yaml / *.yml under the resources paths,
several documents per file. Components are parsed here; other kinds
(Configuration, Resiliency, Subscription) are handed on as documents."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge.errors import ConfigError

log = logging.getLogger("edge.runtime.loader")


@dataclass
class MetadataItem:
    name: str
    value: str | None = None
    secret_name: str | None = None
    secret_key: str | None = None
    env_ref: str | None = None


@dataclass
class ComponentSpec:
    name: str
    type: str
    version: str
    file: str
    metadata: list[MetadataItem] = field(default_factory=list)
    ignore_errors: bool = False
    init_timeout: str | None = None
    scopes: list[str] = field(default_factory=list)
    secret_store: str | None = None

    def error(self, message: str, field: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, component=self.name, field=field)


@dataclass
class Resources:
    components: list[ComponentSpec] = field(default_factory=list)
    # kind -> [(file, document)] for the loaders of later building blocks.
    documents: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def resource_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            raise ConfigError(f"resources path {raw} does not exist")
    return files


def load_resources(paths: list[str]) -> Resources:
    resources = Resources()
    seen: dict[str, str] = {}
    for path in resource_files(paths):
        for doc in read_documents(path):
            kind = doc.get("kind")
            if kind != "Component":
                resources.documents.setdefault(str(kind), []).append((str(path), doc))
                continue
            spec = parse_component(doc, str(path))
            if spec.name in seen:
                raise spec.error(f"duplicate component name (also declared in {seen[spec.name]})",
                                 field="metadata.name")
            seen[spec.name] = spec.file
            resources.components.append(spec)
    return resources


def read_documents(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                          file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from None
    found = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ConfigError(f"document {index + 1} is not a mapping", file=str(path))
        found.append(doc)
    return found


def parse_component(doc: dict[str, Any], file: str) -> ComponentSpec:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError("a Component needs metadata.name", file=file, field="metadata.name")
    api = doc.get("apiVersion")
    if api != "dapr.io/v1alpha1":
        raise ConfigError(f"apiVersion must be dapr.io/v1alpha1, got {api!r}",
                          file=file, component=name, field="apiVersion")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise ConfigError("missing spec", file=file, component=name, field="spec")
    ctype = spec.get("type")
    if not isinstance(ctype, str) or not ctype:
        raise ConfigError("missing component type", file=file, component=name, field="spec.type")
    auth = doc.get("auth") if isinstance(doc.get("auth"), dict) else {}
    scopes = doc.get("scopes") or []
    if not isinstance(scopes, list):
        raise ConfigError("scopes must be a list of app ids", file=file, component=name,
                          field="scopes")
    component = ComponentSpec(
        name=name, type=ctype, version=_text(spec.get("version", "v1")), file=file,
        ignore_errors=_text(spec.get("ignoreErrors", False)).lower() == "true",
        init_timeout=_text(spec.get("initTimeout")) or None,
        scopes=[_text(s) for s in scopes], secret_store=auth.get("secretStore") or None,
    )
    items = spec.get("metadata") or []
    if not isinstance(items, list):
        raise component.error("spec.metadata must be a list of {name, value}",
                              field="spec.metadata")
    component.metadata = [_metadata_item(item, component, index)
                          for index, item in enumerate(items)]
    return component


def _metadata_item(item: Any, component: ComponentSpec, index: int) -> MetadataItem:
    where = f"spec.metadata[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise component.error("each metadata item needs a name", field=where)
    name = item["name"]
    ref = item.get("secretKeyRef")
    if ref is not None:
        if not isinstance(ref, dict) or not ref.get("name"):
            raise component.error("secretKeyRef needs a name", field=name)
        return MetadataItem(name, secret_name=_text(ref["name"]),
                            secret_key=_text(ref.get("key")) or _text(ref["name"]))
    if item.get("envRef") is not None:
        return MetadataItem(name, env_ref=_text(item["envRef"]))
    return MetadataItem(name, value=_text(item.get("value")))
