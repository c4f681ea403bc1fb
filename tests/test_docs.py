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


def test_every_command_has_help_with_examples() -> None:
    from click.testing import CliRunner

    from acbatch.cli import cli

    runner = CliRunner()
    for verb in COMMANDS:
        result = runner.invoke(cli, [verb, "--help"])
        assert result.exit_code == 0, verb
        assert "Example" in result.output, verb
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and "acbatch, version" in version.output


def test_published_schemas_check_the_example_show_with_check_jsonschema() -> None:
    import shutil
    import subprocess
    import sys

    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker
    specs = [p for p in (ROOT / "specs").glob("*.yaml") if not p.name.endswith(".script.yaml")]
    for schema, files in (
        ("episode", specs),
        ("show", [ROOT / "acbatch.yaml"]),
    ):
        result = subprocess.run(
            [
                checker,
                "--schemafile",
                str(ROOT / "schemas" / f"{schema}.schema.json"),
                *map(str, files),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
