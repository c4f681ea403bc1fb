"""The user docs stay in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

from acbatch import codes
from acbatch.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def test_troubleshooting_covers_every_documented_api_code() -> None:
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for code in codes.RESPONSE_CODES:
        assert f"| {code} |" in text, code


def test_the_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for verb in COMMANDS:
        assert f"acbatch {verb}" in readme, verb


def test_docs_link_to_pages_that_exist() -> None:
    import re

    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)\)", page.read_text()):
            assert (ROOT / "docs" / target).is_file(), (page.name, target)
