"""Component reference in Markdown, generated from the declared metadata
fields, so the README and `edge components` can never drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from edge.components.base import Component


def _default(value: object, kind: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "duration" and isinstance(value, (int, float)):
        # Written back as a Go duration, the form the YAML takes.
        return f"{int(value)}s" if float(value).is_integer() else f"{round(value * 1000)}ms"
    return str(value)


def component_reference(types: dict[str, type[Component]]) -> str:
    lines: list[str] = []
    for name in sorted(types):
        cls = types[name]
        lines += [f"#### `{name}`", "", cls.description, ""]
        lines += ["| field | type | default | required | description |",
                  "| --- | --- | --- | --- | --- |"]
        for field in cls.fields:
            default = _default(field.default, field.type)
            lines.append(f"| `{field.name}` | {field.type} | {default} | "
                         f"{'yes' if field.required else ''} | {field.description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_MARKED = re.compile(r"(<!-- components:start -->\n).*?(<!-- components:end -->)", re.S)


def update_readme(path: Path, types: dict[str, type[Component]]) -> bool:
    """Rewrite the README's generated block; True when it changed."""
    text = path.read_text(encoding="utf-8")
    reference = component_reference(types)
    updated = _MARKED.sub(lambda m: m.group(1) + reference + m.group(2), text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text
