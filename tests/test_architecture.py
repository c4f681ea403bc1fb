"""docs/architecture.md shows the state machine generated from the transition table."""

from __future__ import annotations

import re
from pathlib import Path

from acbatch.runner.state import EDGES, state_diagram

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def test_the_documented_state_diagram_is_the_transition_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- state-diagram:start -->\n```mermaid\n(.*?)```\n", text, re.S)
    assert found, "the diagram markers are missing from docs/architecture.md"
    assert found.group(1) == state_diagram(), "regenerate the diagram from EDGES"
    assert len([line for line in found.group(1).splitlines() if "-->" in line]) == len(EDGES) + 2
