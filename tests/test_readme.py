"""The README's component reference is the one the code declares."""

from __future__ import annotations

import re
from pathlib import Path

from edge.components.docs import component_reference
from edge.runtime.registry import COMPONENT_TYPES

README = Path(__file__).parent.parent / "README.md"


def test_readme_component_reference_matches_declarations():
    text = README.read_text()
    match = re.search(r"<!-- components:start -->\n(.*?)<!-- components:end -->", text, re.S)
    assert match, "README.md lost its components:start/end markers"
    assert match.group(1) == component_reference(COMPONENT_TYPES), (
        "README.md's component reference is stale: "
        "run `.venv/bin/edge components --update-readme README.md`")
