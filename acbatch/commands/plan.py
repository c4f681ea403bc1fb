"""`acbatch plan`: what a run would do, and what it would cost. No API key or network needed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import click

from acbatch.commands._common import (
    Selection,
    echo_json,
    exit_codes_help,
    json_option,
    load_selected_project,
    plural,
    retry_uncertain_option,
    sandbox_option,
    skip_invalid_option,
)
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.runner.batch import (
    RunRequest,
    live_state_hint,
    run_budget,
    select_episodes,
    service_for,
    user_words,
    workspace,
)
from acbatch.runner.decide import Word
from acbatch.runner.limits import CreditBudget
from acbatch.runner.plan import PlanItem, plan_item, plan_run
from acbatch.runner.state import StateStore


@click.command(
    "plan",
    epilog=exit_codes_help(
        "planned", "a spec is invalid (with --skip-invalid: the plan of the others is shown)"
    ),
)
@click.argument("ids", nargs=-1)
@sandbox_option
@retry_uncertain_option(
    "Plan as `run --retry-uncertain ID` would (the resent create and its credits)."
)
@click.option(
    "--max-credits",
    type=click.IntRange(min=0),
    help="Plan as `run --max-credits N` would.",
)
@click.option("--base-url", help="The API base URL the run would use.")
@click.option(
    "--show-source",
    "show_source",
    metavar="ID",
    help="Print exactly the source text (or URL) the script step would be sent for ID.",
)
@skip_invalid_option
@json_option
@click.pass_obj
def command(
    ctx: Context,
    ids: tuple[str, ...],
    sandbox: bool,
    retry_uncertain: tuple[str, ...],
    max_credits: int | None,
    base_url: str | None,
    show_source: str | None,
    skip_invalid: bool,
    as_json: bool,
) -> None:
    """Per episode: the next action, why, and its credit range; then totals.

    This is the decision `acbatch run` takes, with the same budget: the first create `run`
    sends for each episode is the one shown here. Only the audio step is billed, by the rule
    max(10, floor(minutes) x 10) over the duration level's range.

    \b
    Examples:
      acbatch plan
      acbatch plan --json
      acbatch plan --retry-uncertain tide-pools
      acbatch plan --show-source tide-pools     what the paid script step will read
    """
    if show_source is not None:
        if as_json:
            raise click.UsageError("--show-source prints the text itself; it has no --json")
        print_source(load_selected_project(ctx, (show_source,), sandbox=sandbox), show_source)
        return
    selection = load_selected_project(
        ctx, ids + retry_uncertain if ids else (), skip_invalid, sandbox=sandbox
    )
    request = RunRequest(
        ids=ids, sandbox=sandbox, base_url=base_url, retry_uncertain=frozenset(retry_uncertain)
    )
    show_plan(selection, request, max_credits, as_json)
    raise click.exceptions.Exit(selection.report_skipped())


def show_plan(
    selection: Selection,
    request: RunRequest,
    max_credits: int | None,
    as_json: bool,
    words: dict[str, Word] | None = None,
) -> None:
    """Print the plan of a run request (also shown by the episode controls before they run)."""
    project = workspace(selection.project, request.sandbox)
    hint = live_state_hint(project, request.sandbox)
    if hint and not as_json:
        click.echo(f"acbatch: {hint}", err=True)
    episodes, _drafts = select_episodes(project, request.ids)
    store = StateStore(project.config.paths.state)
    left = run_budget(project, store, max_credits)
    planned = plan_run(
        project,
        store,
        episodes,
        service=service_for(project, request),
        budget=CreditBudget(left),
        words=user_words(replace(request, words=words), project)
        if words
        else user_words(request, project),
    )
    notes: list[str] = []

    def each_item() -> Iterator[PlanItem]:
        for current, decision in planned:
            carried = current.state.carried_from if current.state else None
            if carried and not store.path_for(current.episode.id).exists():
                notes.append(
                    f"acbatch: {current.episode.id} carries over the work of {carried} (the "
                    f"same script, paid once): `acbatch run` saves it as {current.episode.id}"
                )
            yield plan_item(current, decision)

    # One episode at a time: a large show's plan keeps only what it prints.
    items = each_item()
    if as_json:
        kept = list(items)
        low = sum(i.credits_low for i in kept)
        high = sum(i.credits_high for i in kept)
        paid = sum(1 for i in kept if i.paid)
        echo_json(
            "plan",
            {
                "episodes": [i.to_json() for i in kept],
                "totals": {
                    "episodes": len(kept),
                    "paid_creates": paid,
                    "billed_step": "audio",
                    "credits": {"low": low, "high": high},
                    "budget_left": left,
                },
                "invalid_skipped": [s.episode_id for s in selection.left_out if selection.skipped],
            },
            ok=not selection.skipped,
        )
        raise click.exceptions.Exit(selection.report_skipped())
    width = max([len(e.id) for e in episodes] + [7])
    click.echo(f"{'EPISODE':<{width}}  {'NEXT':<14}  {'CREDITS':>9}  WHY")
    count = paid = low = high = 0
    for i in items:
        credits = f"{i.credits_low}-{i.credits_high}" if i.credits_high else "-"
        click.echo(f"{i.id:<{width}}  {i.action:<14}  {credits:>9}  {i.reason}")
        count, paid = count + 1, paid + i.paid
        low, high = low + i.credits_low, high + i.credits_high
    line = (
        f"{plural(count, 'episode')}, {plural(paid, 'paid create')}, "
        f"estimated {low}-{high} credits (audio is billed)"
    )
    if left is not None:
        line += f"; budget left: {plural(left, 'credit')}"
    click.echo(line)
    for note in notes:
        click.echo(note, err=True)


def print_source(selection: Selection, episode_id: str) -> None:
    """The text a `file:` or `text:` source sends (after extraction), or the URL of the others."""
    from acbatch.runner.bodies import script_request
    from acbatch.sources import SourceError

    episode = selection.project.episode(episode_id)
    assert episode is not None  # load_selected_project checked the id
    try:
        body = script_request(episode)
    except SourceError as exc:
        raise UserError(f"{episode.source.value}: {exc}") from None
    text = body.get("text") or body.get("url") or ""
    click.echo(text)
    click.echo(
        f"acbatch: {episode_id}: {plural(len(text), 'character')} would be sent to the script step "
        f"(source type {body['source_type']})",
        err=True,
    )
