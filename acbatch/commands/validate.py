"""`acbatch validate [PATHS...] [--json]`: check acbatch.yaml and the specs; change nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option, plural
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.project.loader import LoadResult, load_project_files
from acbatch.project.model import Problem, display_path, format_problem

__all__ = ["display_path", "format_problem", "report_json", "report_ok", "summary"]


def summary(
    result: LoadResult, review_files: int = 0, problems: list[Problem] | None = None
) -> str:
    """`valid: 3 files checked, 2 episodes, 1 review script`, or the problem counts."""
    project = result.project
    problems = project.problems if problems is None else problems
    files = len(result.files) + review_files
    episodes = len(project.episodes)
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    checked = f"{plural(files, 'file')} checked"
    if errors:
        bad_files = len({p.file for p in errors})
        text = f"{plural(len(errors), 'problem')} in {plural(bad_files, 'file')} ({checked})"
    else:
        text = f"valid: {checked}, {plural(episodes, 'episode')}"
        if review_files:
            text += f", {plural(review_files, 'review script')}"
    if warnings:
        text += f", {plural(warnings, 'warning')}"
    return text


def report_json(
    result: LoadResult,
    cwd: Path | None = None,
    review_files: int = 0,
    problems: list[Problem] | None = None,
) -> dict[str, Any]:
    """The keys of `validate --json` (its `ok` is report_ok)."""
    project = result.project
    problems = project.problems if problems is None else problems
    return {
        "files": len(result.files) + review_files,
        "episodes": len(project.episodes),
        "review_scripts": review_files,
        "problems": [replace(p, file=Path(display_path(p.file, cwd))).to_json() for p in problems],
    }


def report_ok(problems: list[Problem]) -> bool:
    """Valid: no problem is an error (warnings allowed)."""
    return not any(p.severity == "error" for p in problems)


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


@click.command(
    "validate", epilog=exit_codes_help("every file is valid", "problems found (nothing changed)")
)
@click.argument(
    "paths",
    nargs=-1,
    type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=Path),
)
@json_option
@click.option(
    "--live/--sandbox",
    default=True,
    help="Check for a live publish (the default: a non-public show.base_url is an error, and "
    "no sandbox-only voice may reach the real service), or for a sandbox run (a non-public "
    "base_url is only a warning; the demo voices are fine).",
)
@click.pass_obj
def command(ctx: Context, paths: tuple[Path, ...], as_json: bool, live: bool) -> None:
    """Check acbatch.yaml, the episode specs and the review scripts; change nothing.

    With PATHS, only those spec files and review scripts (or folders of them) are checked,
    together with acbatch.yaml. Every problem is printed as file:line:column: field: message.
    A review script (specs/<id>.script.yaml) is checked against its schema, and an approved
    one against its episode's current script task in state/<id>.json: an approval for an
    older script no longer counts. For a live publish (the default) the voices are checked
    too: a voice name or voice_id from the sandbox's demo catalog is an error there.
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
      acbatch validate specs/tide-pools.yaml specs/tide-pools.script.yaml
      acbatch validate --json | jq '.problems[]'
    """
    from acbatch.runner.batch import workspace
    from acbatch.runner.review import check_review_scripts

    _check_inside(paths, ctx.root)
    result = load_project_files(ctx.config_path, list(paths) if paths else None, cache=True)
    _add_target_problems(result, live)
    if live:
        from acbatch.voices import live_catalog_problems

        result.project.problems.extend(live_catalog_problems(result.project))
    project = workspace(result.project, not live)
    reviews, review_problems = check_review_scripts(
        project, project.config.paths.state, list(paths) if paths else None
    )
    problems = sorted(
        [*result.project.problems, *review_problems],
        key=lambda p: (str(p.file), p.line, p.column, p.field),
    )
    if as_json:
        report = report_json(result, review_files=len(reviews), problems=problems)
        echo_json("validate", report, ok=report_ok(problems))
    else:
        for problem in problems:
            click.echo(format_problem(problem), err=True)
        click.echo(summary(result, len(reviews), problems), err=True)
    if not report_ok(problems):
        raise click.exceptions.Exit(1)
