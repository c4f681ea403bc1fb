"""A show published per language: one feed and site per language, and a page to choose one.

When episodes come from a language matrix (`languages:` in a spec or in `defaults:`), each
language is published as a show of its own under output/<code>/ (the API's language code: en,
ja, zh_yue): output/<code>/feed.xml, output/<code>/index.html and output/<code>/episodes/<id>/,
served at show.base_url + <code>/. Its title, description, author, artwork and podcast:guid
come from `show.languages.<code>`, else from the show; its <language> is show.language when
that is the same language (en-US for en), else the language's BCP 47 tag. Each language's
podcast:guid is recorded in state/.feed-identity.<code>.json. output/index.html links the
languages (hreflang), and every language's index links the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from markupsafe import Markup

from acbatch import codes
from acbatch.project.model import ShowConfig
from acbatch.publish.feedurls import FEED_FILE, SITE_FILE, base_folder_url
from acbatch.publish.files import write_text_atomic
from acbatch.publish.model import Person, RenderedEpisode
from acbatch.publish.render import RenderReport, render_show
from acbatch.publish.templating import Templates
from acbatch.publish.text import one_line, paragraphs_html, quote_relpath
from acbatch.publish.views import (
    NOTES_HTML,
    UI_LANGUAGE,
    Alternate,
    bcp47,
    lang_attribute,
    show_view,
)

LANGUAGES_TEMPLATE = "languages.html.j2"
X_DEFAULT = "x-default"
"""hreflang of the page that lets the reader choose a language (output/index.html)."""


@dataclasses.dataclass(frozen=True)
class LanguageEntry:
    """One language as the language page shows it."""

    code: str
    hreflang: str
    name: str
    """The language's own name (日本語)."""
    title: str
    description_html: Markup
    href: str
    feed_href: str
    ui_lang_attr: Markup


def language_tag(config: ShowConfig, code: str) -> str:
    """The feed's <language> and the pages' lang for language `code`: show.language when it
    is that language (keeps a region: en-US), else the code's BCP 47 tag."""
    tag = bcp47(code)
    own = config.show.language
    if own and own.split("-", 1)[0].lower() == tag.split("-", 1)[0].lower():
        return own
    return tag


def language_config(config: ShowConfig, code: str) -> ShowConfig:
    """The show as language `code` publishes it, into output/<code>/ at base_url/<code>/."""
    show = config.show
    own = show.in_language(code)
    same_language = language_tag(config, code) == show.language
    in_language = dataclasses.replace(
        show,
        title=own.title or show.title,
        description=own.description or show.description,
        author=own.author or show.author,
        image=own.image or show.image,
        language=language_tag(config, code),
        base_url=base_folder_url(show.base_url) + code + "/",
        # show.guid is the identity of the show's own language; the others derive theirs.
        guid=own.guid or (show.guid if same_language else None),
        languages=(),
    )
    paths = dataclasses.replace(config.paths, output=config.paths.output / code)
    return dataclasses.replace(config, show=in_language, paths=paths)


def render_languages(
    config: ShowConfig,
    languages: Sequence[str],
    episodes: Sequence[RenderedEpisode],
    *,
    now: datetime | None = None,
    hosts: Sequence[Person] = (),
) -> RenderReport:
    """Render every language as its own show, then output/index.html; one report for all
    (the feed named is the show's own language's, else the first one's). `hosts`: the show's
    hosts, in every language's channel."""
    now = now or datetime.now(timezone.utc)
    reports: dict[str, RenderReport] = {}
    for code in languages:
        alternates = [
            Alternate(language_tag(config, other), f"../{other}/", _title(config, other))
            for other in languages
        ] + [Alternate(X_DEFAULT, f"../{SITE_FILE}")]
        reports[code] = render_show(
            language_config(config, code),
            [e for e in episodes if e.language == code],
            now=now,
            language=code,
            alternates=alternates,
            hosts=hosts,
        )
    site_path = config.paths.output / SITE_FILE
    page = _language_page(config, languages, now)
    written: list[Path] = []
    if not site_path.is_file() or site_path.read_text(encoding="utf-8") != page:
        write_text_atomic(site_path, page)
        written.append(site_path)
    return _combined(config, languages, reports, written)


def with_alternates(
    config: ShowConfig, episodes: Sequence[tuple[str, RenderedEpisode]], now: datetime
) -> list[RenderedEpisode]:
    """Each episode (with the id of its spec) linked to itself in the show's other languages:
    the other languages' published episodes of the same spec, from notes page to notes page
    (output/<code>/episodes/<id>/notes.html)."""
    shown: dict[str, list[RenderedEpisode]] = {}
    for spec_id, episode in episodes:
        if not episode.publish.draft and episode.pub_date <= now:
            shown.setdefault(spec_id, []).append(episode)
    linked = []
    for spec_id, episode in episodes:
        versions = shown.get(spec_id, [])
        if len(versions) > 1 and any(other is episode for other in versions):
            alternates = tuple(
                (
                    language_tag(config, other.language),
                    f"../../../{other.language}/episodes/{quote_relpath(other.id)}/{NOTES_HTML}",
                )
                for other in versions
            )
            episode = dataclasses.replace(episode, alternates=alternates)
        linked.append(episode)
    return linked


def _title(config: ShowConfig, code: str) -> str:
    return one_line(config.show.in_language(code).title or config.show.title)


def _language_page(config: ShowConfig, languages: Sequence[str], now: datetime) -> str:
    templates = Templates(config.paths.templates)
    entries = []
    for code in languages:
        tag = language_tag(config, code)
        description = config.show.in_language(code).description or config.show.description
        entries.append(
            LanguageEntry(
                code=code,
                hreflang=tag,
                name=codes.LANGUAGE_NATIVE_NAMES.get(code, (codes.LANGUAGES.get(code, code),))[0],
                title=_title(config, code),
                description_html=paragraphs_html(description),
                href=f"{code}/",
                feed_href=f"{code}/{FEED_FILE}",
                ui_lang_attr=lang_attribute(UI_LANGUAGE, tag),
            )
        )
    view = show_view(config.show, None, now)
    return templates.renderer(LANGUAGES_TEMPLATE)({"show": view, "languages": entries})


def main_language(config: ShowConfig, languages: Sequence[str]) -> str:
    """The show's own language among `languages` (show.language), else the first one."""
    return next(
        (c for c in languages if language_tag(config, c) == config.show.language), languages[0]
    )


def _combined(
    config: ShowConfig,
    languages: Sequence[str],
    reports: dict[str, RenderReport],
    written: list[Path],
) -> RenderReport:
    main = reports[main_language(config, languages)]
    report = RenderReport(
        output=config.paths.output,
        feed_path=main.feed_path,
        site_path=config.paths.output / SITE_FILE,
        podcast_guid=main.podcast_guid,
        new_feed_url=main.new_feed_url,
        languages=reports,
    )
    scheduled = []
    changes = []
    for code in languages:
        part = reports[code]
        report.written += part.written
        report.published += part.published
        report.unchanged += part.unchanged
        report.left_out.update(part.left_out)
        report.problems += part.problems
        for phase, seconds in part.timings.items():
            report.timings[phase] = report.timings.get(phase, 0.0) + seconds
        if part.next_scheduled is not None:
            scheduled.append(part.next_scheduled)
        if part.identity_change:
            changes.append(f"{code}: {part.identity_change}")
    report.written += written
    report.next_scheduled = min(scheduled) if scheduled else None
    report.identity_change = "\n".join(changes)
    return report
