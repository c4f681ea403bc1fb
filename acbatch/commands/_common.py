"""Small helpers the commands share: loading a valid project, printing problems and JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from acbatch.context import Context
from acbatch.spec.model import Problem, Project

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable JSON report on stdout."
)


sandbox_option = click.option(
    "--sandbox",
    is_flag=True,
    help="The offline sandbox, in its own workspace (sandbox/state, sandbox/output).",
)


def shown_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


def format_problem(problem: Problem) -> str:
    text = f"{shown_path(problem.file)}:{problem.line}:{problem.column}: "
    text += f"{problem.field or '<root>'}: {problem.message}"
    if problem.suggestion:
        text += f" (did you mean '{problem.suggestion}'?)"
    return text


def load_valid_project(ctx: Context) -> Project:
    """The project, or exit 1 after printing every validation problem (nothing is changed)."""
    project = ctx.load_project()
    if project.errors:
        for problem in project.errors:
            click.echo(format_problem(problem), err=True)
        count = len(project.errors)
        click.echo(
            f"acbatch: {count} problem{'s' if count != 1 else ''} found; nothing was run "
            "(see `acbatch validate`)",
            err=True,
        )
        sys.exit(1)
    return project


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
