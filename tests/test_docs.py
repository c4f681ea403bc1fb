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


# The shared exit codes each command can return beyond 0, 1 and 2 (every command can also exit
# 70, an internal error): its --help epilog must name each of them.
SHARED_EXIT_CODES: dict[str, tuple[str, ...]] = {
    "run": ("EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"),
    "retry": ("EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"),
    "redo": ("EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"),
    "adopt": ("EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"),
    "render": ("EXIT_LOCKED_HELP",),
    "state push": ("EXIT_LOCKED_HELP",),
    "state pull": ("EXIT_LOCKED_HELP",),
    "": ("EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"),  # acbatch --help
}


def acting_commands() -> dict[str, object]:
    """`acbatch` itself and every command that does something (not a bare group of
    subcommands), by its words: '', 'run', 'feed check', 'voices', 'voices import'..."""
    import click

    from acbatch.cli import cli

    context = click.Context(cli)
    found: dict[str, object] = {"": cli}

    def walk(command: click.Command, path: str) -> None:
        if not isinstance(command, click.Group) or command.invoke_without_command:
            found[path] = command
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub, f"{path} {name}".strip())

    for verb in COMMANDS:
        command = cli.get_command(context, verb)
        assert command is not None
        walk(command, verb)
    return found


def test_every_command_lists_its_exit_codes_in_its_help() -> None:
    from click.testing import CliRunner

    from acbatch.cli import EXIT_INTERNAL, cli
    from acbatch.commands import _common
    from acbatch.runner.engine import CANCEL_EXIT_CODES

    assert _common.EXIT_INTERNAL_HELP.startswith(f"{EXIT_INTERNAL} ")
    cancelled = "/".join(str(code) for code in sorted(CANCEL_EXIT_CODES.values()))
    assert _common.EXIT_CANCELLED_HELP.startswith(f"{cancelled} ")
    commands = acting_commands()
    assert {"", "run", "feed check", "voices", "voices import", "templates list"} <= set(commands)
    assert set(SHARED_EXIT_CODES) <= set(commands)
    runner = CliRunner()
    for path, command in commands.items():
        epilog = getattr(command, "epilog", None) or ""
        assert epilog.startswith("Exit codes: 0 "), path
        # Every command can fail on usage (2) and on a bug (70), worded the one shared way.
        for name in ("EXIT_USAGE_HELP", "EXIT_INTERNAL_HELP", *SHARED_EXIT_CODES.get(path, ())):
            assert getattr(_common, name) in epilog, (path, name)
        for name in {"EXIT_LOCKED_HELP", "EXIT_CREDITS_HELP", "EXIT_CANCELLED_HELP"} - set(
            SHARED_EXIT_CODES.get(path, ())
        ):
            assert getattr(_common, name) not in epilog, (path, name)
        shown = runner.invoke(cli, [*path.split(), "--help"])
        assert shown.exit_code == 0, path
        text = " ".join(shown.output.split())  # as wrapped for the terminal
        assert "Exit codes: 0" in text and f"{EXIT_INTERNAL} internal" in text, path
        if "EXIT_CANCELLED_HELP" in SHARED_EXIT_CODES.get(path, ()):
            assert f"{cancelled} cancelled" in text, path


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
