"""render_show: everything a show publishes, from finished episodes into the output folder.

Per episode (output/episodes/<id>/): ID3 tags and chapters in the MP3, notes.md, notes.html,
transcript.vtt/.srt/.json and chapters.json. For the show: feed.xml (checked before it replaces
the previous one) and index.html.

Work is skipped by content hash, in three stages per episode: the MP3 is re-tagged only when the
episode, the tag-relevant show fields or the file itself changed; the per-episode files only when
those, the show fields their templates read or the templates changed; the episode's feed item
and page article (cached fragments, UTF-8 bytes) only when those or the item templates changed.
The feed check looks only at items whose bytes it has not checked before (and at the channel):
with the built-in channel template it checks the channel holding just those items, and keeps each
item's findings. A feed identical to the last checked one (but for lastBuildDate) reuses that
check's result. Every template, built-in or the project's own, is rendered by Jinja.

An episode may come as a KnownEpisode (one whose inputs are those of the last render): it is
built in full only when one of its stages must be done again. EpisodesAhead does one episode's
stages while a run is still busy, so that the run's render finds them current.
"""

from __future__ import annotations

import gc
import hashlib
import html
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from stat import S_ISREG
from typing import Any

from acbatch import __version__
from acbatch.project.model import ShowConfig
from acbatch.publish import id3
from acbatch.publish.artwork import PublishedImage, publish_episode_image, publish_show_image
from acbatch.publish.cache import EpisodeRecord, RenderCache, fingerprint
from acbatch.publish.categories import category_error
from acbatch.publish.errors import AudioFileError, FeedCheckError, PublishError, ShowSettingsError
from acbatch.publish.feedcheck import FeedProblem, check_feed, errors
from acbatch.publish.feedurls import FEED_FILE, SITE_FILE, base_folder_url
from acbatch.publish.files import write_atomic, write_text_atomic
from acbatch.publish.identity import IdentityFileError, identity_file, settle_identity
from acbatch.publish.model import (
    Chapter,
    Person,
    PublishedEpisode,
    RenderedEpisode,
    TimedTurn,
    full_episode,
    published_subset,
    rendered_digest,
)
from acbatch.publish.pages import Frame, assemble_page, page_frame
from acbatch.publish.templating import Templates
from acbatch.publish.text import clean, one_line, quote_relpath, safe_http_url
from acbatch.publish.timing import chapters as layout_chapters
from acbatch.publish.timing import soundbites, timed_turns
from acbatch.publish.transcripts import (
    CHAPTERS_FILE,
    TRANSCRIPT_FORMATS,
    json_chapters,
    json_transcript,
    srt,
    webvtt,
)
from acbatch.publish.views import (
    NOTES_HTML,
    NOTES_MD,
    Alternate,
    EpisodeView,
    ShowView,
    TrailerView,
    episode_view,
    podcast_text,
    rfc2822,
    show_view,
)

Renderer = Callable[[dict[str, Any]], str]
FEED_TEMPLATE = "feed.xml.j2"
FEED_ITEM_TEMPLATE = "feed_item.xml.j2"
SITE_TEMPLATE = "index.html.j2"
SITE_ITEM_TEMPLATE = "index_item.html.j2"
NOTES_HTML_TEMPLATE = "notes.html.j2"
NOTES_MD_TEMPLATE = "notes.md.j2"
STYLE_TEMPLATE = "_style.css.j2"
FILE_TEMPLATES = (NOTES_HTML_TEMPLATE, NOTES_MD_TEMPLATE, STYLE_TEMPLATE)
ITEM_TEMPLATES = (FEED_ITEM_TEMPLATE, SITE_ITEM_TEMPLATE)
EPISODES_FOLDER = "episodes"
RENDER_HTML_TITLES = "warning"
"""Titles are published as written (escaped): markup in one is reported, not refused
(`acbatch feed check` refuses it)."""
OPTIONAL_FILES = (*TRANSCRIPT_FORMATS, CHAPTERS_FILE)
# A POSIX path abspath() would leave as it is (absolute; no ".", ".." or empty parts).
_NORMAL_ABSOLUTE = re.compile(r"(?:/(?!\.\.?(?:/|$))[^/]+)+" if os.sep == "/" else r"(?!)")
# A folder mtime is trusted only once it is older than this: a change made within the same
# filesystem timestamp tick as the last one would not move it.
_SETTLED_NS = 2_000_000_000


@dataclass
class RenderReport:
    output: Path
    feed_path: Path
    site_path: Path
    written: list[Path] = field(default_factory=list)
    """Every file written (or MP3 re-tagged) by this render."""
    published: list[str] = field(default_factory=list)
    """Episode ids in the feed, newest first."""
    unchanged: list[str] = field(default_factory=list)
    """Published episodes for which nothing had to be redone (tags, files and fragments)."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Episode id -> why it is not published ('draft', 'scheduled for ...')."""
    problems: list[FeedProblem] = field(default_factory=list)
    """Feed-check findings (warnings only: errors raise FeedCheckError)."""
    next_scheduled: datetime | None = None
    """The earliest future pub_date left out; render again after it to publish that episode."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per phase: episodes, feed, check, site, write."""
    podcast_guid: str = ""
    """The show's podcast:guid (kept in state/.feed-identity.json once published)."""
    new_feed_url: str | None = None
    """Set when the feed has moved: the <itunes:new-feed-url> it carries."""
    identity_change: str = ""
    """What this render recorded about the feed's identity (first guid, a move), in words."""
    languages: dict[str, RenderReport] = field(default_factory=dict)
    """A show published per language: each language's own report, by language code (this
    report then sums them up; its feed_path is the show's own language's feed)."""

    @property
    def warnings(self) -> list[FeedProblem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass
class _Show:
    """What every episode's rendering shares."""

    config: ShowConfig
    templates: Templates
    cache: RenderCache
    image: PublishedImage | None
    view: ShowView
    audio_shared: str
    files_shared: str
    items_shared: str
    feed_item: Renderer
    site_item: Renderer
    report: RenderReport
    output: str
    """config.paths.output as an absolute path string."""


def render_show(
    config: ShowConfig,
    episodes: Sequence[RenderedEpisode],
    *,
    now: datetime | None = None,
    hosts: Sequence[Person] = (),
    language: str | None = None,
    alternates: Sequence[Alternate] = (),
) -> RenderReport:
    """Render the show's outputs into config.paths.output; see the module docstring.

    `hosts`: the show's hosts, for podcast:person in the channel.

    Drafts and episodes dated after `now` (default: the current time) are left out. Raises a
    PublishError subclass (ShowSettingsError, ArtworkError, AudioFileError, TemplateError,
    FeedCheckError) when something the user must fix stops publishing. `language` and
    `alternates`: for one language of a show published per language (acbatch.publish.
    multilingual), its identity record and render cache, and its site's other languages.
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    cache = RenderCache.load(
        config.paths.config.parent, config.paths.output.absolute(), language or ""
    )
    try:
        with _rare_cyclic_gc():
            return _render(config, episodes, now, cache, hosts, language, alternates)
    finally:
        cache.close()


def _shared(
    config: ShowConfig,
    now: datetime,
    cache: RenderCache,
    report: RenderReport,
    hosts: Sequence[Person],
    language: str | None,
    alternates: Sequence[Alternate],
    *,
    record_identity: bool = True,
) -> _Show:
    """What every episode's rendering shares; the feed's identity is recorded (when it is new
    or moved) unless `record_identity` is False."""
    show = config.show
    output = config.paths.output
    try:
        identity = settle_identity(
            config.paths.state,
            show.base_url,
            show.guid,
            now,
            identity_file(language),
            record=record_identity,
        )
    except IdentityFileError as exc:
        raise ShowSettingsError(str(exc)) from exc
    report.podcast_guid, report.new_feed_url = identity.podcast_guid, identity.new_feed_url
    report.identity_change = identity.change
    templates = Templates.shared(config.paths.templates)
    image = publish_show_image(show.image, config.paths.config, output, show.base_url)
    if image is not None and image.relpath and image.copied:
        report.written.append(output / image.relpath)
    view = show_view(show, image, now, identity=identity, hosts=hosts, alternates=alternates)
    show_digest = fingerprint(__version__, repr(show), image.digest if image else "")
    file_sources = [templates.source(n) for n in FILE_TEMPLATES]
    files_show = _show_values(view, templates.fields_read(FILE_TEMPLATES, "show"))
    # Episode views take base_url and explicit from the show.
    episode_fields = templates.fields_read(FILE_TEMPLATES, "episode")
    files_explicit = (
        repr(show.explicit) if episode_fields is None or "explicit" in episode_fields else ""
    )
    return _Show(
        config=config,
        templates=templates,
        cache=cache,
        image=image,
        view=view,
        audio_shared=fingerprint(__version__, show.title, show.author)[:16],
        # Episode views also mark the show's words with its language (show_lang_attr).
        files_shared=fingerprint(
            __version__, show.base_url, show.language, files_explicit, files_show, *file_sources
        )[:16],
        items_shared=fingerprint(show_digest, *(templates.source(n) for n in ITEM_TEMPLATES))[:16],
        feed_item=templates.renderer(FEED_ITEM_TEMPLATE),
        site_item=templates.renderer(SITE_ITEM_TEMPLATE),
        report=report,
        output=os.path.abspath(output),
    )


class EpisodesAhead:
    """Renders finished episodes' own outputs (MP3 tags, notes, transcripts, chapters, feed
    item and page article) while a run is still busy with others, into the render cache: the
    run's render then finds them current and has only the feed and the site left to write.

    Exactly what render_show would do for the episode, with the same keys: whatever differs
    at the render (a template edited meanwhile) is simply rendered again there. Nothing is
    published: no feed, no page, and the feed's identity is not recorded. An episode not yet
    due (drafts, future dates) is left alone.
    """

    def __init__(
        self, config: ShowConfig, *, now: datetime | None = None, hosts: Sequence[Person] = ()
    ) -> None:
        self.now = now or datetime.now(timezone.utc)
        _check_show_settings(config)
        config.paths.output.mkdir(parents=True, exist_ok=True)
        self.cache = RenderCache.load(config.paths.config.parent, config.paths.output.absolute())
        try:
            report = RenderReport(config.paths.output, Path(), Path())
            self.shared = _shared(
                config, self.now, self.cache, report, hosts, None, (), record_identity=False
            )
        except BaseException:
            self.cache.close()
            raise

    def render(self, episode: PublishedEpisode) -> None:
        published, _left_out = published_subset([episode], self.now)
        if not published:
            return
        _check_episode_ids(published)
        with _rare_cyclic_gc():
            _publish_episode(episode, self.shared)
        self.cache.save()

    def close(self) -> None:
        self.cache.close()


def _render(
    config: ShowConfig,
    episodes: Sequence[RenderedEpisode],
    now: datetime,
    cache: RenderCache,
    hosts: Sequence[Person] = (),
    language: str | None = None,
    alternates: Sequence[Alternate] = (),
) -> RenderReport:
    output = config.paths.output
    _check_show_settings(config)
    _check_episode_ids(episodes)
    output.mkdir(parents=True, exist_ok=True)

    published, left_out = published_subset(episodes, now)
    report = RenderReport(
        output=output,
        feed_path=output / FEED_FILE,
        site_path=output / SITE_FILE,
        left_out=left_out,
        published=[e.id for e in published],
    )
    scheduled = [e.pub_date for e in episodes if e.id in left_out and not e.publish.draft]
    report.next_scheduled = min(scheduled) if scheduled else None
    clock = _PhaseClock(report.timings)
    shared = _shared(config, now, cache, report, hosts, language, alternates)
    templates, view = shared.templates, shared.view

    # With the built-in channel template the feed is head + items + tail: only the items not
    # checked before need checking, inside that head and tail.
    feed_context: dict[str, Any] = {"show": view}
    builtin_feed = templates.origin(FEED_TEMPLATE) == "built-in"
    recheck_all = builtin_feed and cache.whole_feed_problems
    records: list[EpisodeRecord] = []
    for episode in published:
        record = _publish_episode(episode, shared)
        if recheck_all:  # findings were kept for the whole feed, not per item
            record.item_problems = None
        records.append(record)
    # Trailers sit in the channel with their final (tagged) file's length.
    view.trailers = _trailers(published, records, shared)
    frame = page_frame(templates, FEED_TEMPLATE, feed_context, "items") if builtin_feed else None
    known_ids = {e.id for e in episodes}
    for episode_id in [k for k in cache.records if k not in known_ids]:
        cache.remove(episode_id)
    clock.lap("episodes")

    feed_bytes = assemble_page(
        templates, FEED_TEMPLATE, feed_context, "items", _feed_items(records), frame
    )
    clock.lap("feed")
    report.problems, feed_key = _check(feed_bytes, records, shared, frame)
    clock.lap("check")
    if errors(report.problems):
        cache.save()
        raise FeedCheckError(
            f"{report.feed_path} (not written)",
            report.problems,
            _hints(report.problems, config.paths.config),
        )

    site_bytes = assemble_page(
        templates,
        SITE_TEMPLATE,
        {"show": view, "episode_count": len(records)},
        "articles",
        [r.site_item for r in records],
    )
    clock.lap("site")
    # lastBuildDate is when the channel's content last changed: an unchanged feed is kept as is.
    if cache.feed_written_key != feed_key or not report.feed_path.is_file():
        write_atomic(report.feed_path, feed_bytes, durable=True)
        cache.feed_written_key = feed_key
        cache.touch()
        report.written.append(report.feed_path)
    del feed_bytes
    site_key = hashlib.sha256(site_bytes).hexdigest()
    if cache.site_written_key != site_key or not report.site_path.is_file():
        write_atomic(report.site_path, site_bytes)
        cache.site_written_key = site_key
        cache.touch()
        report.written.append(report.site_path)
    cache.save()
    clock.lap("write")
    return report


def _trailers(
    published: Sequence[RenderedEpisode], records: Sequence[EpisodeRecord], shared: _Show
) -> list[TrailerView]:
    """podcast:trailer for each published episode of type trailer, newest first."""
    base = base_folder_url(shared.config.show.base_url)
    trailers = []
    for episode, record in zip(published, records, strict=True):
        if episode.publish.episode_type != "trailer":
            continue
        episode = full_episode(episode)
        _audio, relpath, _stat = _locate_audio(episode, shared.config.paths.output, shared.output)
        trailers.append(
            TrailerView(
                title=podcast_text(episode.title) or podcast_text(episode.id),
                pubdate=rfc2822(episode.pub_date),
                url=base + quote_relpath(relpath),
                length=record.audio_size,
                type="audio/mpeg",
                season=episode.publish.season,
            )
        )
    return trailers


def _feed_items(records: list[EpisodeRecord]) -> list[bytes]:
    return [record.feed_item for record in records]


def _show_values(view: ShowView, names: frozenset[str] | None) -> str:
    """The show fields `names` (all when None) as one string, for change detection."""
    chosen = sorted(names) if names is not None else [f.name for f in fields(ShowView)]
    values = []
    for name in chosen:
        if name == "last_build_date":  # changes on every render; never a reason to rewrite
            continue
        value = getattr(view, name, None)
        if isinstance(value, PublishedImage):
            value = (value.url, value.relpath, value.digest)
        values.append(f"{name}={value!r}")
    return "\n".join(values)


# Channel findings the user fixes in acbatch.yaml, and where.
_SETTING_FOR = {
    "channel/itunes:image": "show.image (a 1400-3000 px square JPEG or PNG, or its URL)",
    "channel/title": "show.title",
    "channel/description": "show.description",
    "channel/language": "show.language",
    "channel/itunes:category": "show.categories",
    "channel/itunes:owner": "show.owner (name and email)",
}


def _hints(problems: Sequence[FeedProblem], config_path: Path) -> list[str]:
    hints = []
    for where, setting in _SETTING_FOR.items():
        if any(p.where.startswith(where) and p.severity == "error" for p in problems):
            hints.append(f"set {setting} in {config_path}")
    return hints


def _check(
    feed_bytes: bytes, records: list[EpisodeRecord], shared: _Show, frame: Frame | None
) -> tuple[list[FeedProblem], str]:
    """Feed-check findings and the feed's content key (its hash without lastBuildDate).

    Items whose bytes were checked before keep their findings. With `frame` (the built-in
    channel template), the channel holding only the items not checked yet is checked as a feed
    of its own (all items: that feed is the feed itself); its findings are combined with those
    kept for the other items, and guid uniqueness is checked across all items. A custom channel
    template may not list each item once, in order: then the whole feed is checked and its
    findings kept as they are.
    """
    last_build = shared.view.last_build_date.encode("utf-8")
    key = hashlib.sha256(feed_bytes.replace(last_build, b"")).hexdigest()
    cache = shared.cache
    fresh = [r for r in records if r.item_problems is None]
    if key == cache.feed_check_key and not fresh:
        if cache.whole_feed_problems:
            return [FeedProblem.from_json(raw) for raw in cache.channel_problems], key
        return _combine(cache.channel_problems, records), key

    config = shared.config
    if frame is None:
        problems = check_feed(
            feed_bytes,
            local_root=config.paths.output,
            base_url=base_folder_url(config.show.base_url),
            html_titles=RENDER_HTML_TITLES,
        )
        for record in records:
            record.item_problems = []
            cache.changed(record.episode_id)
        cache.feed_check_key = key
        cache.channel_problems = [p.to_json() for p in problems]
        cache.whole_feed_problems = True
        cache.touch()
        return problems, key

    head, separator, tail = frame
    pieces = [head]
    for record in fresh:
        pieces += (record.feed_item, separator)
    pieces.append(tail)
    problems = check_feed(
        b"".join(pieces),
        local_root=config.paths.output,
        base_url=base_folder_url(config.show.base_url),
        html_titles=RENDER_HTML_TITLES,
    )
    channel: list[dict[str, Any]] = []
    per_item: dict[int, list[dict[str, Any]]] = {}
    for problem in problems:
        if problem.item_position is None:
            if problem.where == "document":  # not well-formed: nothing else can be trusted
                return [problem], key
            if problem.where != "channel/item":  # "no episodes yet": decided by _combine
                channel.append(problem.to_json())
        elif not problem.message.startswith(_DUPLICATE_GUID):
            raw = problem.to_json()
            del raw["item_position"]
            per_item.setdefault(problem.item_position, []).append(raw)
    for position, record in enumerate(fresh, start=1):
        record.item_problems = per_item.get(position, [])
        cache.changed(record.episode_id)
    cache.feed_check_key = key
    cache.channel_problems = channel
    cache.whole_feed_problems = False
    cache.touch()
    return _combine(channel, records), key


_DUPLICATE_GUID = "not unique (also item #"


def _combine(channel: list[dict[str, Any]], records: list[EpisodeRecord]) -> list[FeedProblem]:
    """Channel findings, then each item's in feed order, with guid uniqueness across items."""
    problems = [FeedProblem.from_json(raw) for raw in channel]
    if not records and not any(p.where == "channel/item" for p in problems):
        problems.append(FeedProblem("warning", "channel/item", "the feed has no episodes yet"))
    seen: dict[str, int] = {}
    for position, record in enumerate(records, start=1):
        title: str | None = None
        for raw in record.item_problems or []:
            title = raw.get("item_title")
            if title and title.startswith("#") and title[1:].isdigit():
                title = f"#{position}"
            problems.append(
                FeedProblem(
                    severity=raw["severity"],
                    where=raw["where"],
                    message=raw["message"],
                    item_title=title,
                    item_guid=raw.get("item_guid"),
                    item_position=position,
                )
            )
        if not record.guid:
            continue
        if record.guid in seen:
            problems.append(
                FeedProblem(
                    "error",
                    "item/guid",
                    f"{_DUPLICATE_GUID}{seen[record.guid]})",
                    _item_title(record, position),
                    record.guid,
                    position,
                )
            )
        else:
            seen[record.guid] = position
    return problems


def _item_title(record: EpisodeRecord, position: int) -> str:
    start = record.feed_item.find(b"<title>")
    end = record.feed_item.find(b"</title>", start)
    if start < 0 or end < 0:
        return f"#{position}"
    raw = record.feed_item[start + len(b"<title>") : end].decode("utf-8", "replace")
    return html.unescape(raw).strip() or f"#{position}"


def _publish_episode(known: RenderedEpisode, shared: _Show) -> EpisodeRecord:
    """Bring one episode's MP3 tags, files and fragments up to date; returns its record.

    The record's item_problems is None when its feed item has bytes not checked before.
    """
    config = shared.config
    output = config.paths.output
    audio, audio_relpath, stat = _locate_audio(known, output, shared.output)
    image = publish_episode_image(known.publish.image, known.id, output, config.show.base_url)
    artwork_image = image if image is not None and image.artwork is not None else shared.image
    # Keys are short digests joined, not hashed again: cheap to build and compare.
    episode_key = rendered_digest(known)[:32]
    artwork_digest = artwork_image.digest[:16] if artwork_image and artwork_image.artwork else ""
    image_digest = image.digest[:16] if image else ""
    audio_key = f"{shared.audio_shared}:{episode_key}:{artwork_digest}"
    # The files and fragments are redone whenever the audio key changes (audio_current below),
    # so their keys need not repeat it.
    files_key = f"{shared.files_shared}:{image_digest}"
    if known.alternates:  # the notes page links the episode in the show's other languages
        files_key += ":" + fingerprint(repr(known.alternates))[:16]
    items_key = f"{shared.items_shared}:{image_digest}"
    record = shared.cache.records.get(known.id)

    audio_current = (
        record is not None
        and record.audio_key == audio_key
        and record.audio_size == stat.st_size
        and record.audio_mtime_ns == stat.st_mtime_ns
    )
    files_current = (
        audio_current
        and record is not None
        and record.files_key == files_key
        and _files_present(record, shared)
    )
    items_current = audio_current and record is not None and record.items_key == items_key
    if record is not None and files_current and items_current:
        shared.report.unchanged.append(known.id)
        return record

    episode = full_episode(known)
    turns: list[TimedTurn] = []
    if record is not None and audio_current:
        timeline, duration = record.timeline, record.duration
        size, mtime_ns = record.audio_size, record.audio_mtime_ns
        if files_current:
            chapters, has_transcript = list(record.chapters), record.has_transcript
        else:
            turns, chapters = _place(episode, timeline)
            has_transcript = any(t.text for t in turns)
    else:
        audio_file = Path(audio)
        timeline = id3.measure_duration(audio_file)
        turns, chapters = _place(episode, timeline)
        has_transcript = any(t.text for t in turns)
        id3.write_tags(
            audio_file,
            id3.EpisodeTags(
                title=one_line(episode.title) or episode.id,
                artist=one_line(config.show.author),
                album=one_line(config.show.title),
                date=episode.pub_date,
                comment=clean(episode.description),
                language=episode.language,
                track=episode.publish.episode,
                artwork=artwork_image.artwork if artwork_image else None,
                chapters=tuple(chapters),
            ),
        )
        shared.report.written.append(audio_file)
        duration = id3.measure_duration(audio_file)
        after = os.stat(audio)
        size, mtime_ns = after.st_size, after.st_mtime_ns

    if not items_current and not turns and episode.highlights:
        turns = timed_turns(episode.turns, timeline)  # the feed item's soundbites need them
    view = episode_view(
        episode,
        show=config.show,
        audio_relpath=audio_relpath,
        audio_size=size,
        duration=duration,
        chapters=chapters,
        has_transcript=has_transcript,
        image=image,
        turns=turns,
        bites=soundbites(episode.highlights, turns, timeline) if turns else (),
    )
    if record is not None and files_current:
        files, folder_mtime_ns = record.files, record.folder_mtime_ns
    else:
        files, folder_mtime_ns = _write_episode_files(view, chapters, shared), 0
    if record is not None and items_current:
        feed_item, site_item = record.feed_item, record.site_item
        item_problems = record.item_problems
    else:
        context = {"show": shared.view, "episode": view}
        feed_item = shared.feed_item(context).strip().encode("utf-8")
        site_item = shared.site_item(context).strip().encode("utf-8")
        # Findings depend on the item's bytes alone: the same bytes need no new check.
        checked = record is not None and record.feed_item == feed_item
        item_problems = record.item_problems if checked and record is not None else None

    updated = EpisodeRecord(
        episode_id=episode.id,
        audio_key=audio_key,
        files_key=files_key,
        items_key=items_key,
        audio_size=size,
        audio_mtime_ns=mtime_ns,
        timeline=timeline,
        duration=duration,
        files=files,
        guid=view.guid,
        feed_item=feed_item,
        site_item=site_item,
        chapters=tuple(chapters),
        has_transcript=has_transcript,
        item_problems=item_problems,
        folder_mtime_ns=folder_mtime_ns,
    )
    shared.cache.put(updated)
    return updated


def _place(episode: PublishedEpisode, timeline: float) -> tuple[list[TimedTurn], list[Chapter]]:
    """Turns and chapters on the published file's timeline: within the API's audio, which
    starts `speech_start` seconds in (after an intro jingle) and may end before an outro."""
    offset = min(max(0.0, episode.speech_start), timeline)
    speech = timeline - offset
    if episode.speech_seconds is not None:
        speech = min(speech, max(0.0, episode.speech_seconds))
    turns = timed_turns(episode.turns, speech, offset)
    return turns, layout_chapters(episode.highlights, turns, timeline, offset)


def _write_episode_files(
    view: EpisodeView, chapters: Sequence[object], shared: _Show
) -> tuple[str, ...]:
    output = shared.config.paths.output
    folder = output / EPISODES_FOLDER / view.id
    context = {"show": shared.view, "episode": view}
    files: dict[str, str] = {
        NOTES_MD: shared.templates.renderer(NOTES_MD_TEMPLATE)(context),
        NOTES_HTML: shared.templates.renderer(NOTES_HTML_TEMPLATE)(context),
    }
    if view.timed_turns:
        files["transcript.vtt"] = webvtt(view.timed_turns)
        files["transcript.srt"] = srt(view.timed_turns)
        files["transcript.json"] = json_transcript(view.timed_turns)
    if chapters:
        files[CHAPTERS_FILE] = json_chapters(chapters)  # type: ignore[arg-type]
    for name in OPTIONAL_FILES:
        if name not in files:
            (folder / name).unlink(missing_ok=True)
    for name, text in files.items():
        write_text_atomic(folder / name, text)
        shared.report.written.append(folder / name)
    return tuple(f"{EPISODES_FOLDER}/{view.id}/{name}" for name in files)


def _files_present(record: EpisodeRecord, shared: _Show) -> bool:
    """All of an episode's files are still there.

    A folder whose mtime is the one recorded when its files were last seen has had no entry
    added, removed or renamed since: one stat instead of listing it.
    """
    files = record.files
    if not files:
        return True
    folder = os.path.join(shared.output, files[0].rsplit("/", 1)[0])
    try:
        mtime_ns = os.stat(folder).st_mtime_ns
    except OSError:
        return False
    if mtime_ns == record.folder_mtime_ns:
        return True
    try:
        present = set(os.listdir(folder))
    except OSError:
        return False
    if not all(name.rsplit("/", 1)[-1] in present for name in files):
        return False
    settled = mtime_ns if time.time_ns() - mtime_ns > _SETTLED_NS else 0
    if settled != record.folder_mtime_ns:
        record.folder_mtime_ns = settled
        shared.cache.changed(record.episode_id)
    return True


def _locate_audio(
    episode: RenderedEpisode, output: Path, absolute_output: str
) -> tuple[str, str, os.stat_result]:
    """The MP3's path, its path relative to output/ (posix), and its stat; it must be inside."""
    audio = os.fspath(episode.audio_path)
    if not _NORMAL_ABSOLUTE.fullmatch(audio):
        audio = os.path.abspath(audio)
    relative = _relative_inside(audio, absolute_output)
    if relative is None:
        # Symlinked folders: compare the real locations before refusing.
        relative = _relative_inside(os.path.realpath(audio), os.path.realpath(output))
    if relative is None:
        raise AudioFileError(
            f"episode '{episode.id}': its MP3 {episode.audio_path} must be inside the output "
            f"folder {output} (expected {output / EPISODES_FOLDER / episode.id / episode.id}.mp3)"
        )
    try:
        stat = os.stat(audio)
    except OSError as exc:
        raise AudioFileError(
            f"episode '{episode.id}': the MP3 {episode.audio_path} is missing ({exc.strerror})"
        ) from exc
    if not S_ISREG(stat.st_mode):
        raise AudioFileError(f"episode '{episode.id}': {episode.audio_path} is not a file")
    return audio, relative, stat


def _relative_inside(path: str, root: str) -> str | None:
    prefix = root.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].replace(os.sep, "/")


def _check_show_settings(config: ShowConfig) -> None:
    show = config.show
    where = config.paths.config
    problems: list[str] = []
    for index, category in enumerate(show.categories):
        message = category_error(category)
        if message:
            problems.append(f"{where}: show.categories[{index}]: {message}")
    if show.guid:
        try:
            version = uuid.UUID(show.guid).version
        except ValueError:
            problems.append(f"{where}: show.guid: '{show.guid}' is not a UUID")
        else:
            if version != 5:
                problems.append(
                    f"{where}: show.guid: podcast:guid must be a UUIDv5, "
                    f"'{show.guid}' is version {version} (omit it to derive one from the feed URL)"
                )
    if safe_http_url(show.base_url) is None:
        problems.append(f"{where}: show.base_url: '{show.base_url}' is not an http(s) URL")
    if problems:
        raise ShowSettingsError("\n".join(problems))


def _check_episode_ids(episodes: Sequence[RenderedEpisode]) -> None:
    seen: set[str] = set()
    for episode in episodes:
        episode_id = episode.id
        if (
            not episode_id
            or episode_id in (".", "..")
            or any(c in episode_id for c in "/\\\0")
            or episode_id != episode_id.strip()
        ):
            raise PublishError(f"episode id '{episode_id}' cannot be used as a folder name")
        if episode_id in seen:
            raise PublishError(f"episode id '{episode_id}' appears twice")
        seen.add(episode_id)


class _PhaseClock:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = self.into.get(phase, 0.0) + now - self.last
        self.last = now


@contextmanager
def _rare_cyclic_gc() -> Iterator[None]:
    """Rendering allocates many small, mostly acyclic objects; collecting after every 700 of
    them (the default) costs about a quarter of a large render. Collect far less often."""
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
