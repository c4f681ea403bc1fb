"""`acbatch approve`: let the next run pay for the audio of a reviewed script."""

from __future__ import annotations

import click

from acbatch.commands._common import (
    exit_codes_help,
    load_valid_project,
    sandbox_option,
    shown_path,
)
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.runner.batch import resolve_ids
from acbatch.runner.plan import review_path, saved_state
from acbatch.runner.review import approve
from acbatch.runner.state import StateStore


@click.command(
    "approve",
    epilog=exit_codes_help(
        "approved", "a spec or review script is invalid, or the episode asks for no review"
    ),
)
@click.argument("ids", nargs=-1, required=True)
@sandbox_option
@click.pass_obj
def command(ctx: Context, ids: tuple[str, ...], sandbox: bool) -> None:
    """Approve the reviewed script of each episode ID (sets approved: true in its file).

    \b
    Example:
      acbatch approve tide-pools && acbatch run tide-pools
      acbatch approve --sandbox tide-pools     (sandbox runs keep reviews in sandbox/reviews)
    """
    project = load_valid_project(ctx, ids, sandbox=sandbox)
    for episode_id in resolve_ids(project, ids):
        episode = project.episode(episode_id)
        assert episode is not None  # resolve_ids named it
        if episode.review != "required":
            raise UserError(f"{episode_id} does not ask for review (review: auto)")
        # Work carried over from before a language matrix is approved in its file until
        # `run` renames it (acbatch.runner.plan.review_path).
        state = saved_state(StateStore(project.config.paths.state), episode)
        script_task = state.script.global_id if state else None
        path = approve(episode, script_task, review_path(episode, state))
        click.echo(f"approved {shown_path(path)}", err=True)
