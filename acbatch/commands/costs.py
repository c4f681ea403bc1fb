"""`acbatch costs`: the cost ledger: every charge, per episode and per month."""

from __future__ import annotations

import re

import click

from acbatch.commands._common import (
    echo_json,
    exit_codes_help,
    json_option,
    plural,
    sandbox_option,
)
from acbatch.context import Context
from acbatch.runner.batch import live_state_hint, workspace
from acbatch.runner.ledger import read_ledger, this_month
from acbatch.runner.state import StateStore

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@click.command(
    "costs", epilog=exit_codes_help("shown", "the project or a state file cannot be read")
)
@click.option("--month", metavar="YYYY-MM", help="Only the charges of this month (UTC).")
@sandbox_option
@json_option
@click.pass_obj
def command(ctx: Context, month: str | None, sandbox: bool, as_json: bool) -> None:
    """Credits charged: every audio task's charge, per episode and month, and budgets left.

    Charges come from the audio's real duration by the API's rule max(10, floor(minutes) x 10)
    and are kept in each episode's state file, so the ledger travels with the state.

    \b
    Examples:
      acbatch costs
      acbatch costs --month 2026-11 --json
    """
    if month is not None and not _MONTH.match(month):
        raise click.BadParameter(f"expected YYYY-MM, got {month!r}", param_hint="--month")
    project = workspace(ctx.load_project(), sandbox)
    ledger = read_ledger(StateStore(project.config.paths.state))
    api = project.config.api
    budgets = {}
    if api.budget_monthly is not None:
        used = ledger.spent(this_month()) + ledger.committed
        budgets["monthly"] = {
            "limit": api.budget_monthly,
            "left": max(0, api.budget_monthly - used),
        }
    if api.budget_total is not None:
        used = ledger.spent() + ledger.committed
        budgets["total"] = {"limit": api.budget_total, "left": max(0, api.budget_total - used)}
    entries = [e for e in ledger.entries if month is None or e.month == month]
    hint = live_state_hint(project, sandbox)
    if hint and not as_json:
        click.echo(f"acbatch: {hint}", err=True)
    if as_json:
        echo_json(
            "costs",
            {
                "month": month,
                "charges": [
                    {
                        "episode": e.episode,
                        "task": e.charge.task,
                        "credits": e.charge.credits,
                        "seconds": e.charge.seconds,
                        "at": e.charge.at,
                        "step": e.charge.step,
                    }
                    for e in entries
                ],
                "by_episode": ledger.by_episode(month),
                "by_month": ledger.months(),
                "total": sum(e.charge.credits for e in entries),
                "committed": ledger.committed,
                "budgets": budgets,
            },
            ok=True,
        )
        return
    for entry in entries:
        click.echo(
            f"{entry.charge.at or '-':<20}  {entry.episode:<24}  {entry.charge.credits:>5}  "
            f"{entry.charge.step} task {entry.charge.task}"
        )
    for name, credits in ledger.by_episode(month).items():
        click.echo(f"episode {name}: {plural(credits, 'credit')}")
    total = sum(e.charge.credits for e in entries)
    click.echo(f"total{' for ' + month if month else ''}: {plural(total, 'credit')}")
    if ledger.committed:
        click.echo(f"audio in flight: up to {plural(ledger.committed, 'credit')} more")
    for name, budget in budgets.items():
        click.echo(f"{name} budget: {budget['left']} of {plural(budget['limit'], 'credit')} left")
