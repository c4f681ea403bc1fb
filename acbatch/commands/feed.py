"""`acbatch feed check [PATH|URL]`: check a podcast feed against Apple and Podcasting 2.0 rules."""

from __future__ import annotations

from pathlib import Path

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option, plural
from acbatch.context import Context
from acbatch.errors import UserError


@click.group(name="feed")
def command() -> None:
    """Work with the show's RSS feed.

    \b
    Examples:
      acbatch feed check                  the project's output/feed.xml
      acbatch feed check https://podcast.example.com/feed.xml
      acbatch feed identity               the show's podcast:guid and where the feed moved
    """


@command.command(
    "check",
    epilog=exit_codes_help(
        "no error (warnings allowed)", "an error in the feed, or the feed cannot be read"
    ),
)
@click.argument("target", required=False, metavar="[PATH|URL]")
@json_option
@click.option(
    "--files/--no-files",
    default=None,
    help="Compare enclosure lengths with the files beside the feed "
    "(default: on for the project's own feed, off for a PATH).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="The feed is a local preview: URLs on localhost or private addresses are warnings, "
    "not errors.",
)
@click.pass_context
def check(
    ctx: click.Context, target: str | None, as_json: bool, files: bool | None, sandbox: bool
) -> None:
    """Check a feed (default: the project's output/feed.xml) for missing or invalid tags.

    Apple's and Podcasting 2.0's rules, and more than the W3C validator checks: artwork must
    name a JPEG or PNG and the image itself must be square, 1400-3000 px and RGB (read from
    beside a feed file, or downloaded for a URL); titles are plain text; the language is an
    ISO 639 code; every URL must be on a public host (a localhost or private-network feed is
    an error, a warning with --sandbox).

    \b
    Examples:
      acbatch feed check
      acbatch feed check --sandbox        a sandbox render served from localhost
      acbatch feed check public/feed.xml --json
      acbatch feed check https://example.com/podcast/feed.xml
    """
    from acbatch.publish.feedcheck import (
        ERROR,
        WARNING,
        RemoteArtwork,
        check_feed,
        check_feed_file,
        errors,
        fetch_feed,
    )

    non_public = WARNING if sandbox else ERROR
    if target and target.lower().startswith(("http://", "https://")):
        if files:
            raise UserError("--files needs a local feed file, not a URL")
        source = target
        problems = check_feed(
            fetch_feed(target, timeout=_fetch_seconds(ctx)),
            non_public=non_public,
            artwork=RemoteArtwork(target),
        )
    else:
        path = Path(target) if target else _project_feed(ctx)
        source = str(path)
        if not path.is_file():
            raise UserError(f"{path}: no such feed file (render the show first, or pass a path)")
        try:
            problems = check_feed_file(
                path,
                compare_files=target is None if files is None else files,
                non_public=non_public,
                check_artwork=True,
            )
        except OSError as exc:
            raise UserError(f"{path}: cannot read the feed ({exc.strerror or exc})") from exc

    found_errors = errors(problems)
    warnings = len(problems) - len(found_errors)
    if as_json:
        document = {
            "source": source,
            "errors": len(found_errors),
            "warnings": warnings,
            "problems": [p.to_json() for p in problems],
        }
        echo_json("feed-check", document, ok=not found_errors)
    else:
        for problem in problems:
            click.echo(str(problem))
        verdict = "FAILED" if found_errors else "OK"
        click.echo(
            f"{source}: {verdict}: {plural(len(found_errors), 'error')}, "
            f"{plural(warnings, 'warning')}"
        )
    if found_errors:
        ctx.exit(1)


def _project_feed(ctx: click.Context) -> Path:
    from acbatch.publish.feedurls import FEED_FILE

    obj = ctx.obj if isinstance(ctx.obj, Context) else Context()
    if not obj.config_path.is_file():
        raise UserError(f"no PATH given and no project here ({obj.config_path} not found)")
    return obj.load_project().config.paths.output / FEED_FILE


@command.command(
    "identity", epilog=exit_codes_help("shown", "no project here, or its identity file is broken")
)
@json_option
@click.pass_context
def identity(ctx: click.Context, as_json: bool) -> None:
    """Show the show's podcast:guid, its feed URL and the addresses it moved from.

    The guid is recorded in state/.feed-identity.json the first time the show is rendered for
    a public base_url, and kept from then on: changing show.base_url moves the feed (the feed
    then carries itunes:new-feed-url) without changing the show's identity.

    \b
    Example:
      acbatch feed identity
    """
    from acbatch.publish.feedurls import feed_url, podcast_guid
    from acbatch.publish.identity import IDENTITY_FILE, IdentityFileError, load_identity

    obj = ctx.obj if isinstance(ctx.obj, Context) else Context()
    if not obj.config_path.is_file():
        raise UserError(f"no project here ({obj.config_path} not found)")
    config = obj.load_project().config
    show = config.show
    try:
        recorded = load_identity(config.paths.state)
    except IdentityFileError as exc:
        raise UserError(str(exc)) from exc
    current_url = feed_url(show.base_url)
    if recorded is None:
        guid = (show.guid or podcast_guid(current_url)).lower()
        document = {
            "podcast_guid": guid,
            "feed_url": current_url,
            "previous_feed_urls": [],
            "recorded": False,
        }
    else:
        document = {
            "podcast_guid": (show.guid or recorded.podcast_guid).lower(),
            "feed_url": recorded.feed_url,
            "previous_feed_urls": recorded.previous_feed_urls,
            "recorded": True,
        }
    if as_json:
        echo_json("feed-identity", document, ok=True)
        return
    click.echo(f"podcast:guid  {document['podcast_guid']}")
    click.echo(f"feed URL      {document['feed_url']}")
    for previous in recorded.previous_feed_urls if recorded else []:
        click.echo(f"moved from    {previous}")
    if recorded is None:
        click.echo(
            f"not recorded yet: the first render for a public base_url records it in "
            f"{config.paths.state / IDENTITY_FILE}"
        )
    elif recorded.feed_url != current_url:
        click.echo(f"show.base_url now gives {current_url}: the next render moves the feed there")


def _fetch_seconds(ctx: click.Context) -> float:
    """api.timeouts.feed_check of the project in the current folder, else its default."""
    from acbatch.project.defaults import api_defaults
    from acbatch.project.loader import load_show_config

    obj = ctx.obj if isinstance(ctx.obj, Context) else Context()
    config = load_show_config(obj.config_path)[0] if obj.config_path.is_file() else None
    return (config.api if config is not None else api_defaults()).timeouts.feed_check
