"""The component files hardware.md shows load as they are."""

from __future__ import annotations

import re
from pathlib import Path

HARDWARE = Path(__file__).parent.parent / "hardware.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", HARDWARE.read_text(), re.S)


def test_every_yaml_in_hardware_md_loads_in_a_sidecar(spawn, tmp_path):
    # The GPIO ones need a GPIO chip: tests/bindings/gpio/in_guest.py loads them on one.
    blocks = [b for b in yaml_blocks() if "bindings.gpio" not in b]
    assert len(blocks) >= 2
    folder = tmp_path / "resources"
    folder.mkdir()
    for index, block in enumerate(blocks):
        (folder / f"doc-{index}.yaml").write_text(block)
    # The devices are absent here: the bindings must start anyway and wait for them.
    sidecar = spawn.sidecar("gateway", folder)
    with sidecar.client() as http:
        components = {c["name"]: c for c in http.get("/v1.0/metadata").json()["components"]}
    assert {"thermometer", "meter"} <= set(components)
    assert components["thermometer"]["status"]["connected"] is False
    assert components["meter"]["status"]["connected"] is False
