"""`acbatch status`: where every episode stands."""

from __future__ import annotations

import click

from acbatch.commands._common import echo_json, json_option
from acbatch.context import Context
from acbatch.runner.session import state_folder
from acbatch.runner.state import StateStore


@click.command("status")
@click.option("--sandbox", is_flag=True, help="Show the sandbox runs' state.")
@json_option
@click.pass_obj
def command(ctx: Context, sandbox: bool, as_json: bool) -> None:
    """Every episode's state, task ids, credits and last error.

    \b
    Examples:
      acbatch status
      acbatch status --json | jq '.episodes[] | select(.phase == "uncertain")'
    """
    project = ctx.load_project()
    store = StateStore(state_folder(project, sandbox))
    saved = store.saved_names()
    rows = []
    for episode in project.episodes:
        state = store.load(episode.id) if store.has_saved(episode.id, saved) else None
        rows.append(
            {
                "id": episode.id,
                "phase": state.phase.value if state else ("draft" if episode.draft else "new"),
                "script_task": state.script.global_id if state else None,
                "audio_task": state.audio.global_id if state else None,
                "credits_charged": state.credits_charged if state else 0,
                "duration": state.download.duration if state and state.download else None,
                "error": (state.error or {}).get("message") if state else None,
                "updated_at": state.updated_at if state else None,
            }
        )
    total = sum(r["credits_charged"] for r in rows)
    if as_json:
        echo_json({"episodes": rows, "credits_charged": total, "state": str(store.folder)})
        return
    width = max([len(r["id"]) for r in rows] + [7])
    click.echo(f"{'EPISODE':<{width}}  {'PHASE':<16}  {'CREDITS':>7}  TASKS / ERROR")
    for r in rows:
        detail = r["error"] or " ".join(t for t in (r["script_task"], r["audio_task"]) if t)
        click.echo(f"{r['id']:<{width}}  {r['phase']:<16}  {r['credits_charged']:>7}  {detail}")
    click.echo(f"{'total':<{width}}  {'':<16}  {total:>7}")
