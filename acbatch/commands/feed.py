"""`acbatch feed check [PATH|URL]`: check a podcast feed against Apple and Podcasting 2.0 rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option, plural, shown_path
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
    project = obj.load_project()
    output = project.config.paths.output
    if project.output_languages:
        feeds = ", ".join(
            shown_path(output / code / FEED_FILE) for code in project.output_languages
        )
        raise UserError(
            f"this show is published per language, one feed each: give the one to check ({feeds})",
            2,
        )
    return output / FEED_FILE


@command.command(
    "identity", epilog=exit_codes_help("shown", "no project here, or its identity file is broken")
)
@json_option
@click.pass_context
def identity(ctx: click.Context, as_json: bool) -> None:
    """Show the show's podcast:guid, its feed URL and the addresses it moved from.

    The guid is recorded in state/.feed-identity.json the first time the show is rendered for
    a public base_url, and kept from then on: changing show.base_url moves the feed (the feed
    then carries itunes:new-feed-url) without changing the show's identity. A show published
    per language has one identity per language (state/.feed-identity.<code>.json): each is
    shown, the show's own language's first.

    \b
    Example:
      acbatch feed identity
    """
    from acbatch.publish.identity import IdentityFileError

    obj = ctx.obj if isinstance(ctx.obj, Context) else Context()
    if not obj.config_path.is_file():
        raise UserError(f"no project here ({obj.config_path} not found)")
    project = obj.load_project()
    config = project.config
    languages = project.output_languages
    each: dict[str | None, _Identity]
    try:
        if not languages:
            each = {None: _Identity.of(config, None)}
        else:
            from acbatch.publish.multilingual import language_config, main_language

            main = main_language(config, languages)
            ordered = [main, *(code for code in languages if code != main)]
            each = {code: _Identity.of(language_config(config, code), code) for code in ordered}
    except IdentityFileError as exc:
        raise UserError(str(exc)) from exc
    if as_json:
        first = next(iter(each.values()))
        document = dict(first.document)
        if languages:
            document["languages"] = {code: one.document for code, one in each.items()}
        echo_json("feed-identity", document, ok=True)
        return
    for code, one in each.items():
        if code is not None:
            click.echo(f"{code}:")
        one.print("  " if code is not None else "")


@dataclass
class _Identity:
    """One feed's identity as `feed identity` shows it."""

    document: dict[str, Any]
    file: Path
    """Where it is (or will be) recorded."""
    current_url: str
    """The feed URL show.base_url gives now."""

    @classmethod
    def of(cls, config: Any, language: str | None) -> _Identity:
        """The identity a render of `config` publishes under (`language`: one language's)."""
        return _identity(config, language)

    def print(self, indent: str) -> None:
        document = self.document
        click.echo(f"{indent}podcast:guid  {document['podcast_guid']}")
        click.echo(f"{indent}feed URL      {document['feed_url']}")
        for previous in document["previous_feed_urls"]:
            click.echo(f"{indent}moved from    {previous}")
        if not document["recorded"]:
            click.echo(
                f"{indent}not recorded yet: the first render for a public base_url records it "
                f"in {self.file}"
            )
        elif document["feed_url"] != self.current_url:
            click.echo(
                f"{indent}show.base_url now gives {self.current_url}: the next render moves "
                "the feed there"
            )


def _identity(config: Any, language: str | None) -> _Identity:
    from acbatch.publish.feedurls import feed_url, podcast_guid
    from acbatch.publish.identity import identity_file, load_identity

    show = config.show
    name = identity_file(language)
    recorded = load_identity(config.paths.state, name)
    current_url = feed_url(show.base_url)
    document: dict[str, Any] = {
        "podcast_guid": (show.guid or podcast_guid(current_url)).lower(),
        "feed_url": current_url,
        "previous_feed_urls": [],
        "recorded": False,
    }
    if recorded is not None:
        document = {
            "podcast_guid": (show.guid or recorded.podcast_guid).lower(),
            "feed_url": recorded.feed_url,
            "previous_feed_urls": recorded.previous_feed_urls,
            "recorded": True,
        }
    return _Identity(document, config.paths.state / name, current_url)


def _fetch_seconds(ctx: click.Context) -> float:
    """api.timeouts.feed_check of the project in the current folder, else its default."""
    from acbatch.project.defaults import api_defaults
    from acbatch.project.loader import load_show_config

    obj = ctx.obj if isinstance(ctx.obj, Context) else Context()
    config = load_show_config(obj.config_path)[0] if obj.config_path.is_file() else None
    return (config.api if config is not None else api_defaults()).timeouts.feed_check
