"""`acbatch run`: every selected episode through script, audio, download and render."""

from __future__ import annotations

import sys

import click

from acbatch.commands._common import (
    echo_json,
    json_option,
    load_selected_project,
    skip_invalid_option,
)
from acbatch.context import Context
from acbatch.runner.progress import Progress
from acbatch.runner.session import RunRequest, parse_shard, run_project, state_folder


@click.command("run")
@click.argument("ids", nargs=-1)
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Episodes in flight at once.")
@click.option(
    "--max-credits",
    type=click.IntRange(min=0),
    help="Send no create that could take this run past N credits (by the high estimate).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Start the built-in offline sandbox on a free loopback port and run against it.",
)
@click.option(
    "--retry-uncertain",
    "retry_uncertain",
    multiple=True,
    metavar="ID",
    help="Resend the create of an `uncertain` episode (it may be billed twice). Repeatable.",
)
@click.option("--base-url", help="API base URL (beats AUDIOCLEANER_API_BASE and api.base_url).")
@click.option(
    "--shard",
    metavar="K/N",
    help="Only the episodes whose id hashes to shard K of N (split a big show across CI jobs).",
)
@click.option("--no-render", is_flag=True, help="Skip notes, transcripts and the feed.")
@skip_invalid_option
@json_option
@click.pass_obj
def command(
    ctx: Context,
    ids: tuple[str, ...],
    jobs: int | None,
    max_credits: int | None,
    sandbox: bool,
    retry_uncertain: tuple[str, ...],
    base_url: str | None,
    shard: str | None,
    no_render: bool,
    skip_invalid: bool,
    as_json: bool,
) -> None:
    """Run the episodes named as IDs, or every non-draft episode.

    \b
    Only the named episodes' specs and acbatch.yaml need to be valid.
    Without IDs, any invalid spec stops the run before anything is sent;
    with --skip-invalid the valid episodes run, the invalid specs are
    listed, and the exit status is 1.

    Resumable and idempotent: every step is saved as it happens, a finished episode costs no
    API calls, and a paid create is never sent twice unless you say so with --retry-uncertain.

    \b
    Examples:
      acbatch run --sandbox              the whole show against the offline sandbox
      acbatch run                        against audiocleaner.ai (AUDIOCLEANER_API_KEY)
      acbatch run tide-pools -j 2        one episode
      acbatch run --retry-uncertain tide-pools
      acbatch run --shard 2/4            a quarter of the show, for a CI matrix
    """
    try:
        shard_range = parse_shard(shard) if shard else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    selection = load_selected_project(ctx, ids + retry_uncertain if ids else (), skip_invalid)
    project = selection.project
    request = RunRequest(
        ids=ids + retry_uncertain if ids else (),
        jobs=jobs,
        max_credits=max_credits,
        sandbox=sandbox,
        base_url=base_url,
        retry_uncertain=frozenset(retry_uncertain),
        # A shard never renders; otherwise the feed must not drop an invalid published episode.
        render=not no_render
        and (shard_range is not None or selection.may_render(state_folder(project, sandbox))),
        shard=shard_range,
    )
    progress = Progress(len(project.episodes), verbosity=ctx.verbosity)
    try:
        result = run_project(project, request, report=progress)
    finally:
        progress.close()
    summary = result.summary
    if as_json:
        data = summary.to_json()
        data["drafts_skipped"] = result.drafts
        data["render_error"] = result.render_error
        data["exit_code"] = result.exit_code
        if result.rendered is not None:
            data["feed"] = str(result.rendered.feed_path)
            data["published"] = result.rendered.published
        echo_json(data)
    if ctx.verbosity >= 0 or not as_json:
        _print_summary(result)
    skipped_status = selection.report_skipped()
    sys.exit(result.exit_code or skipped_status)


def _print_summary(result: object) -> None:
    from acbatch.runner.session import RunResult

    assert isinstance(result, RunResult)
    summary = result.summary
    for item in summary.results:
        if item.outcome.value not in ("done",):
            click.echo(f"  {item.id}: {item.outcome.value}: {item.message}", err=True)
    counts = ", ".join(f"{n} {name}" for name, n in summary.to_json()["outcomes"].items())
    line = f"acbatch: {len(summary.results)} episodes: {counts or 'nothing to do'}"
    line += f"; {summary.requests} API requests; {summary.elapsed:.1f}s"
    if result.drafts:
        line += f"; drafts skipped: {', '.join(result.drafts)}"
    click.echo(line, err=True)
    if summary.aborted:
        click.echo(f"acbatch: error: run stopped: {summary.aborted}", err=True)
    if result.render_error:
        click.echo(f"acbatch: error: rendering failed: {result.render_error}", err=True)
    if result.rendered is not None:
        click.echo(
            f"acbatch: feed {result.rendered.feed_path} with "
            f"{len(result.rendered.published)} episodes",
            err=True,
        )
