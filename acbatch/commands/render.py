"""`acbatch render`: notes, transcripts, chapters, tags, the feed and the site, from state."""

from __future__ import annotations

import click

from acbatch.commands._common import (
    EXIT_LOCKED_HELP,
    echo_json,
    exit_codes_help,
    feeds_json,
    json_option,
    load_valid_project,
    plural,
    rendered_feeds,
    sandbox_option,
    shown_path,
)
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.publish.targets import problem_line, require_publishable
from acbatch.runner.batch import LOCK_NAME, live_state_hint
from acbatch.runner.published import render_project
from acbatch.runner.state import StateStore
from acbatch.store import ProjectLock


@click.command(
    "render",
    epilog=exit_codes_help(
        "rendered",
        "nothing to render yet, the show is not publishable, or a published episode's audio is "
        "missing (nothing is written)",
        EXIT_LOCKED_HELP,
    ),
)
@sandbox_option
@json_option
@click.pass_obj
def command(ctx: Context, sandbox: bool, as_json: bool) -> None:
    """Render every finished episode into output/ and check the feed. No API calls.

    The show must be publishable: artwork Apple accepts, and a public show.base_url (with
    --sandbox, a localhost or private one is only a warning).

    \b
    Example:
      acbatch render && acbatch feed check
    """
    project = load_valid_project(ctx, sandbox=sandbox)
    hint = live_state_hint(project, sandbox)
    if hint:
        raise UserError(f"{hint}; nothing was rendered")
    for warning in require_publishable(project, live=not sandbox):
        click.echo(problem_line(warning, project.config.paths.root), err=True)
    with ProjectLock(project.config.paths.root / LOCK_NAME):
        report = render_project(project, StateStore(project.config.paths.state))
    if as_json:
        feeds = {"feeds": feeds_json(report)} if report.languages else {}
        echo_json(
            "render",
            {
                **feeds,
                "feed": str(report.feed_path),
                "site": str(report.site_path),
                "published": report.published,
                "left_out": report.left_out,
                "warnings": [str(p) for p in report.warnings],
                "podcast_guid": report.podcast_guid,
                "new_feed_url": report.new_feed_url,
            },
            ok=True,
        )
        return
    for problem in report.warnings:
        click.echo(str(problem), err=True)
    if report.identity_change:
        click.echo(report.identity_change, err=True)
    if report.languages:
        published = plural(len(report.published), "episode")
        click.echo(f"rendered {published}: {rendered_feeds(report)}", err=True)
        return
    click.echo(
        f"rendered {plural(len(report.published), 'episode')}: {shown_path(report.feed_path)}, "
        f"{shown_path(report.site_path)}",
        err=True,
    )
