"""The one error path: user errors are one line with their exit code; anything unexpected is one
line naming the log file that holds its traceback, exit 70."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from acbatch import __version__
from acbatch.cli import COMMANDS, EXIT_INTERNAL, cli
from acbatch.errors import UserError
from tests.conftest import text_episode, write_show


def register(monkeypatch: pytest.MonkeyPatch, name: str, error: BaseException) -> None:
    """A command that raises `error`, registered the way every verb is."""

    @click.command(name)
    def command() -> None:
        raise error

    module = types.ModuleType(f"acbatch.commands._{name}")
    module.command = command  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(COMMANDS, name, f"_{name}")


def test_an_unexpected_error_is_one_line_and_the_traceback_goes_to_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    register(monkeypatch, "boom", ZeroDivisionError("injected for the test"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "boom"])
    assert result.exit_code == EXIT_INTERNAL
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "ZeroDivisionError" in lines[0] and ".acbatch/acbatch.log" in lines[0]
    log = (tmp_path / ".acbatch" / "acbatch.log").read_text()
    assert "Traceback (most recent call last)" in log and "injected for the test" in log
    assert f"acbatch {__version__}" in log
    assert (tmp_path / ".acbatch" / ".gitignore").read_text().strip().endswith("*")


def test_a_user_error_is_one_line_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch, "fixable", UserError("the thing is wrong: fix it", 4))
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "fixable"])
    assert result.exit_code == 4
    assert result.output == "acbatch: error: the thing is wrong: fix it\n"


def test_outside_a_project_the_log_goes_to_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    register(monkeypatch, "boom", RuntimeError("no project here"))
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "nowhere"), "boom"])
    assert result.exit_code == EXIT_INTERNAL
    assert "no project here" in (tmp_path / "cache" / "acbatch" / "acbatch.log").read_text()


def test_no_module_outside_the_command_line_imports_click() -> None:
    package = Path(__file__).resolve().parent.parent / "acbatch"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.parts[-2] != "commands"
        and path.name != "cli.py"
        and any(
            line.startswith(("import click", "from click"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
