"""What the episode controls (retry, redo, adopt) share: show what is at stake, then run."""

from __future__ import annotations

from typing import Any

import click

from acbatch.commands._common import (
    base_url_option,
    json_option,
    load_selected_project,
    sandbox_option,
)
from acbatch.commands.plan import show_plan
from acbatch.commands.run import execute
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.runner.batch import RunRequest, resolve_ids, workspace
from acbatch.runner.decide import Word


def control_options(command: Any) -> Any:
    """The options every episode control shares with `run`: workspace, host, render, JSON."""
    for option in reversed(
        (
            sandbox_option,
            base_url_option,
            click.option("--no-render", is_flag=True, help="Skip notes, transcripts and the feed."),
            json_option,
        )
    ):
        command = option(command)
    return command


def control(
    ctx: Context,
    ids: tuple[str, ...],
    word: Word,
    *,
    sandbox: bool,
    base_url: str | None,
    as_json: bool,
    render: bool = True,
) -> None:
    selection = load_selected_project(ctx, ids, sandbox=sandbox)
    if word.adopt is not None:
        named = resolve_ids(workspace(selection.project, sandbox), ids)
        if len(named) > 1:
            raise UserError(
                f"a task belongs to one episode, and {ids[0]} names {len(named)} (one per "
                f"language): name one of {', '.join(named)}",
                2,
            )
    words = {episode_id: word for episode_id in ids}
    request = RunRequest(ids=ids, sandbox=sandbox, base_url=base_url, words=words, render=render)
    if not as_json:
        show_plan(selection, request, None, as_json=False, words=words)
    execute(ctx, request, as_json, selection)
