"""`acbatch run`: every selected episode through script, audio, download and render."""

from __future__ import annotations

import sys

import click

from acbatch.commands._common import (
    EXIT_CANCELLED_HELP,
    EXIT_CREDITS_HELP,
    EXIT_LOCKED_HELP,
    Selection,
    base_url_option,
    echo_json,
    exit_codes_help,
    feeds_json,
    json_option,
    load_selected_project,
    retry_uncertain_option,
    run_summary_lines,
    sandbox_option,
    skip_invalid_option,
)
from acbatch.context import Context
from acbatch.runner.batch import (
    RunRequest,
    parse_shard,
    run_project,
    select_episodes,
    state_folder,
)
from acbatch.runner.progress import Progress

EXIT_CODES_HELP = exit_codes_help(
    "every episode done or waiting for review",
    "an episode failed, is uncertain, lost or kept for the next run, or an invalid spec was "
    "skipped",
    EXIT_LOCKED_HELP,
    EXIT_CREDITS_HELP,
    EXIT_CANCELLED_HELP,
)
"""The exit codes of `run` and of the episode controls (retry, redo, adopt) that run too."""


@click.command("run", epilog=EXIT_CODES_HELP)
@click.argument("ids", nargs=-1)
@click.option("-j", "--jobs", type=click.IntRange(1, 64), help="Episodes in flight at once.")
@click.option(
    "--max-credits",
    type=click.IntRange(min=0),
    help="Send no create that could take this run past N credits (by the high estimate).",
)
@sandbox_option
@retry_uncertain_option(
    "Resend the create of an `uncertain` episode (it may be billed twice). Repeatable."
)
@base_url_option
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="With --sandbox: the sandbox's loopback port (default: any free one).",
)
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
    port: int | None,
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
    API calls, and a paid create is never sent twice unless you say so (--retry-uncertain,
    `acbatch retry`, `acbatch redo`). `acbatch plan` shows exactly what this will do first.
    Ctrl-C (or SIGTERM) stops new creates at once, saves state and exits; run again to resume.

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
    selection = load_selected_project(
        ctx, ids + retry_uncertain if ids else (), skip_invalid, sandbox=sandbox
    )
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
        sandbox_port=port,
    )
    if port is not None and not sandbox:
        raise click.UsageError("--port goes with --sandbox")
    execute(ctx, request, as_json, selection)


def execute(
    ctx: Context, request: RunRequest, as_json: bool, selection: Selection | None = None
) -> None:
    """Run a request and report it: shared by `run` and the episode controls."""
    selection = selection or load_selected_project(ctx, request.ids, sandbox=request.sandbox)
    project = selection.project
    if request.render and request.shard is None:
        from acbatch.publish.targets import problem_line, require_publishable

        # A live publish needs a public base_url and good artwork: refused before any request.
        for warning in require_publishable(project, live=not request.sandbox):
            click.echo(problem_line(warning, project.config.paths.root), err=True)
    # Counted as the run selects them: drafts and other shards' episodes are never touched.
    touched, _drafts = select_episodes(project, request.ids, request.shard)
    progress = Progress(len(touched), verbosity=ctx.verbosity)
    try:
        result = run_project(project, request, report=progress)
    finally:
        progress.close()
    summary = result.summary
    exit_code = result.exit_code or (1 if selection.skipped else 0)
    if as_json:
        data = summary.to_json()
        data["drafts_skipped"] = result.drafts
        data["render_error"] = result.render_error
        data["exit_code"] = exit_code
        data["invalid_skipped"] = [s.episode_id for s in selection.left_out if selection.skipped]
        if result.rendered is not None:
            data["feed"] = str(result.rendered.feed_path)
            data["published"] = result.rendered.published
            if result.rendered.languages:
                data["feeds"] = feeds_json(result.rendered)
        echo_json("run", data, ok=exit_code == 0)
    if ctx.verbosity >= 0 or not as_json:
        for line in run_summary_lines(result):
            click.echo(line, err=True)
    skipped_status = selection.report_skipped()
    sys.exit(result.exit_code or skipped_status)
