"""`acbatch validate [PATHS...] [--json]`: check acbatch.yaml and the specs; change nothing."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.spec.loader import LoadResult, load_project_files
from acbatch.spec.model import Problem


def display_path(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to the current folder when it is inside it, else as given."""
    base = cwd or Path.cwd()
    try:
        return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)
    except ValueError:
        return str(path)


def format_problem(problem: Problem, cwd: Path | None = None) -> str:
    """file:line:column: field.path: message (did you mean 'x'?); no field for whole-file ones."""
    where = f"{display_path(problem.file, cwd)}:{problem.line}:{problem.column}"
    label = "warning: " if problem.severity == "warning" else ""
    field = f"{problem.field}: " if problem.field else ""
    text = f"{where}: {field}{label}{problem.message}"
    if problem.suggestion:
        text += f" (did you mean '{problem.suggestion}'?)"
    return text


def summary(result: LoadResult) -> str:
    project = result.project
    files = len(result.files)
    episodes = len(project.episodes)
    errors = len(project.errors)
    warnings = len(project.problems) - errors
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if errors:
        bad_files = len({p.file for p in project.errors})
        text = (
            f"{errors} problem{'s' if errors != 1 else ''} in {bad_files} "
            f"file{'s' if bad_files != 1 else ''} ({checked})"
        )
    else:
        text = f"valid: {checked}, {episodes} episode{'s' if episodes != 1 else ''}"
    if warnings:
        text += f", {warnings} warning{'s' if warnings != 1 else ''}"
    return text


def report_json(result: LoadResult, cwd: Path | None = None) -> dict[str, Any]:
    project = result.project
    problems = [
        replace(p, file=Path(display_path(p.file, cwd))).to_json() for p in project.problems
    ]
    return {
        "valid": not project.errors,
        "files": len(result.files),
        "episodes": len(project.episodes),
        "problems": problems,
    }


def _add_target_problems(result: LoadResult, live: bool) -> None:
    """The publishing target's findings (base_url, artwork), once the files themselves load."""
    from acbatch.publish.targets import project_target_problems

    project = result.project
    if any(p.file == project.config.paths.config for p in project.errors):
        return  # acbatch.yaml's own errors come first; its values may be placeholders
    project.problems += project_target_problems(project, live)
    project.problems.sort(key=lambda p: (str(p.file), p.line, p.column, p.field))


def _check_inside(paths: tuple[Path, ...], root: Path) -> None:
    for path in paths:
        if not path.resolve().is_relative_to(root.resolve()):
            raise UserError(f"{path} is not inside the project folder {root}", exit_code=2)


@click.command("validate")
@click.argument(
    "paths",
    nargs=-1,
    type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@click.option(
    "--live/--sandbox",
    default=True,
    help="Check for a live publish (the default: a non-public show.base_url is an error, and "
    "no sandbox-only voice may reach the real service), or for a sandbox run (a non-public "
    "base_url is only a warning; the demo voices are fine).",
)
@click.pass_obj
def command(ctx: Context, paths: tuple[Path, ...], as_json: bool, live: bool) -> None:
    """Check acbatch.yaml and the episode specs against the schemas; change nothing.

    With PATHS, only those spec files (or folders of specs) are checked, together with
    acbatch.yaml. Every problem is printed as file:line:column: field: message.
    With --live, the voices are checked for a run against the real service too: a voice
    name or voice_id from the sandbox's demo catalog is an error there.
    Valid specs are remembered in .acbatch/ (the project's cache folder), so unchanged ones
    are quick to check next time; delete it at any time.
    Exit status: 0 all valid, 1 problems found, 2 usage error.

    Publishing targets are checked too: the show and episode artwork (JPEG or PNG, square,
    1400-3000 px, RGB) and show.base_url, which must be public for a live publish (--sandbox
    accepts localhost and private addresses with a warning).

    \b
    Examples:
      acbatch validate                    the whole project, for a live publish
      acbatch validate --sandbox          the same, for `acbatch run --sandbox`
      acbatch validate specs/tide-pools.yaml
      acbatch validate --json | jq '.problems[]'
    """
    _check_inside(paths, ctx.root)
    result = load_project_files(ctx.config_path, list(paths) if paths else None, cache=True)
    _add_target_problems(result, live)
    if live:
        from acbatch.voices import live_catalog_problems

        result.project.problems.extend(live_catalog_problems(result.project))
    if as_json:
        click.echo(json.dumps(report_json(result), indent=2, ensure_ascii=False))
    else:
        for problem in result.project.problems:
            click.echo(format_problem(problem), err=True)
        click.echo(summary(result), err=True)
    if result.project.errors:
        raise click.exceptions.Exit(1)
