"""`acbatch plan`: what a run would do, and what it would cost. No API key or network needed."""

from __future__ import annotations

import click

from acbatch.commands._common import (
    echo_json,
    json_option,
    load_selected_project,
    skip_invalid_option,
)
from acbatch.context import Context
from acbatch.runner.plan import plan_project
from acbatch.runner.session import state_folder
from acbatch.runner.state import StateStore


@click.command("plan")
@click.option("--sandbox", is_flag=True, help="Plan against the sandbox runs' state.")
@skip_invalid_option
@json_option
@click.pass_obj
def command(ctx: Context, sandbox: bool, skip_invalid: bool, as_json: bool) -> None:
    """Per episode: the next action, why, and its credit range; then totals.

    Credits follow the API's rule max(10, floor(minutes) x 10) over the duration level's range.

    \b
    Examples:
      acbatch plan
      acbatch plan --json
    """
    selection = load_selected_project(ctx, skip_invalid=skip_invalid)
    project = selection.project
    items = plan_project(project, StateStore(state_folder(project, sandbox)))
    low = sum(i.credits_low for i in items)
    high = sum(i.credits_high for i in items)
    paid = [i for i in items if i.paid]
    if as_json:
        echo_json(
            {
                "episodes": [i.to_json() for i in items],
                "totals": {
                    "episodes": len(items),
                    "paid_creates": len(paid),
                    "credits": {"low": low, "high": high},
                },
            }
        )
        raise click.exceptions.Exit(selection.report_skipped())
    width = max([len(i.id) for i in items] + [7])
    click.echo(f"{'EPISODE':<{width}}  {'NEXT':<14}  {'CREDITS':>9}  WHY")
    for i in items:
        credits = f"{i.credits_low}-{i.credits_high}" if i.paid else "-"
        click.echo(f"{i.id:<{width}}  {i.action:<14}  {credits:>9}  {i.reason}")
    click.echo(f"{len(items)} episodes, {len(paid)} paid creates, estimated {low}-{high} credits")
    raise click.exceptions.Exit(selection.report_skipped())
