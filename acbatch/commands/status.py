"""`acbatch status`: where every episode stands, and what it has cost."""

from __future__ import annotations

from typing import Any

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option, sandbox_option
from acbatch.context import Context
from acbatch.runner.batch import live_state_hint, workspace
from acbatch.runner.ledger import ledger_of
from acbatch.runner.plan import saved_state
from acbatch.runner.state import StateStore


@click.command(
    "status", epilog=exit_codes_help("shown", "the project or a state file cannot be read")
)
@sandbox_option
@json_option
@click.pass_obj
def command(ctx: Context, sandbox: bool, as_json: bool) -> None:
    """Every episode's state, task ids, credits charged and last error, with the show's total.

    \b
    Examples:
      acbatch status
      acbatch status --json | jq '.episodes[] | select(.phase == "uncertain")'
    """
    project = workspace(ctx.load_project(), sandbox)
    store = StateStore(project.config.paths.state)
    saved = store.saved_names()
    rows: list[dict[str, Any]] = []
    states = []
    for episode in project.episodes:
        # As plan and run see it: a language's work done before the matrix counts as its own.
        state = saved_state(store, episode, saved)
        if state is not None:
            states.append(state)
        rows.append(
            {
                "id": episode.id,
                "phase": state.phase.value if state else ("draft" if episode.draft else "new"),
                "script_task": state.script.global_id if state else None,
                "audio_task": state.audio.global_id if state else None,
                "credits_charged": state.credits_charged if state else 0,
                "charges": len(state.charges) if state else 0,
                "failures": state.failures if state else 0,
                "duration": state.download.duration if state and state.download else None,
                "error": (state.error or {}).get("message") if state else None,
                "updated_at": state.updated_at if state else None,
            }
        )
    ledger = ledger_of(states)
    hint = live_state_hint(project, sandbox)
    if as_json:
        echo_json(
            "status",
            {
                "episodes": rows,
                "credits_charged": ledger.spent(),
                "credits_committed": ledger.committed,
                "state": str(store.folder),
                "note": hint,
            },
            ok=True,
        )
        return
    if hint:
        click.echo(f"acbatch: {hint}", err=True)
    width = max([len(r["id"]) for r in rows] + [7])
    click.echo(f"{'EPISODE':<{width}}  {'PHASE':<16}  {'CREDITS':>7}  TASKS / ERROR")
    for r in rows:
        detail = r["error"] or " ".join(t for t in (r["script_task"], r["audio_task"]) if t)
        click.echo(f"{r['id']:<{width}}  {r['phase']:<16}  {r['credits_charged']:>7}  {detail}")
    total = f"{'total':<{width}}  {'':<16}  {ledger.spent():>7}"
    if ledger.committed:
        total += f"  (+ up to {ledger.committed} for audio in flight)"
    click.echo(total)
