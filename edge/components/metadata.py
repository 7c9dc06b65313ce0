"""Declared component metadata.

Each component type lists its fields once, as components-contrib's
metadata.yaml does. That declaration is the only source for validation,
error messages, the capabilities in /v1.0/metadata and the docs table."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from edge.errors import ConfigError

# Go accepts both micro signs: U+00B5 and the Greek mu U+03BC (which the Python SDK writes).
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off", ""}


def parse_duration(text: str) -> float:
    """Seconds from a Go duration ("1m30s", "500ms") or a bare number of seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = _go_duration(text)
    # float() also reads "nan" and "inf", which no timer can use.
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 1m30s, 500ms)")
    return seconds


def _go_duration(text: str) -> float:
    sign = -1.0 if text[:1] == "-" else 1.0
    body = text[1:] if text[:1] in ("+", "-") else text
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 1m30s, 500ms)")
    return sign * total


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true or false)")


_PARSERS = {
    "string": str,
    "int": lambda text: int(text.strip()),
    "number": lambda text: float(text.strip()),
    "bool": parse_bool,
    "duration": parse_duration,
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    default: Any = None
    required: bool = False
    description: str = ""
    sensitive: bool = False

    def parse(self, raw: str) -> Any:
        try:
            return _PARSERS[self.type](raw)
        except ValueError as exc:
            raise ConfigError(str(exc), field=self.name) from None


def parse_metadata(fields: tuple[Field, ...], raw: dict[str, str]) -> dict[str, Any]:
    """Typed values for every declared field; undeclared keys are kept as strings
    (Dapr passes unknown metadata through to components, so do we)."""
    values: dict[str, Any] = {}
    lowered = {key.lower(): key for key in raw}
    for field in fields:
        key = lowered.get(field.name.lower())
        if key is None or (raw[key] == "" and field.required):
            if field.required:
                raise ConfigError("required metadata is missing", field=field.name)
            values[field.name] = field.default
            continue
        values[field.name] = field.parse(raw[key])
    declared = {field.name.lower() for field in fields}
    for key, value in raw.items():
        if key.lower() not in declared:
            values[key] = value
    return values


def describe(fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    """The declaration as plain data, for docs and tooling."""
    return [
        {"name": f.name, "type": f.type, "default": f.default, "required": f.required,
         "description": f.description}
        for f in fields
    ]


def choice(meta: dict[str, Any], name: str, choices: dict[str, Any] | tuple[str, ...]) -> Any:
    """The parsed value of a field that takes one of a few words (case-insensitive);
    with a dict, what the word maps to."""
    value = str(meta.get(name)).strip().lower()
    if value not in choices:
        raise ConfigError(f"{value!r} is not one of {', '.join(choices)}", field=name)
    return choices[value] if isinstance(choices, dict) else value
