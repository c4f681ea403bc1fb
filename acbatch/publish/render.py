"""render_show: everything a show publishes, from finished episodes into the output folder.

Per episode (output/episodes/<id>/): ID3 tags and chapters in the MP3, notes.md, notes.html,
transcript.vtt/.srt/.json and chapters.json. For the show: feed.xml (checked before it replaces
the previous one) and index.html.

Work is skipped by content hash, in three stages per episode: the MP3 is re-tagged only when the
episode, the tag-relevant show fields or the file itself changed; the per-episode files only when
those or their templates changed; the episode's feed item and page article (cached fragments)
only when those or the item templates changed. A feed identical to the last checked one (but
for lastBuildDate) reuses that check's result.
"""

from __future__ import annotations

import gc
import hashlib
import html
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from stat import S_ISREG
from typing import Any

from markupsafe import Markup

from acbatch import __version__
from acbatch.publish import id3
from acbatch.publish.artwork import PublishedImage, publish_episode_image, publish_show_image
from acbatch.publish.cache import CACHE_FILE, EpisodeRecord, RenderCache, fingerprint
from acbatch.publish.categories import category_error
from acbatch.publish.errors import AudioFileError, FeedCheckError, PublishError, ShowSettingsError
from acbatch.publish.feedcheck import FeedProblem, check_feed, errors
from acbatch.publish.feedurls import FEED_FILE, SITE_FILE, base_folder_url
from acbatch.publish.files import write_atomic, write_text_atomic
from acbatch.publish.model import (
    PublishedEpisode,
    TimedTurn,
    episode_identity,
    published_subset,
)
from acbatch.publish.templating import Templates
from acbatch.publish.text import clean, one_line, safe_http_url
from acbatch.publish.timing import chapters as layout_chapters
from acbatch.publish.timing import timed_turns
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
    EpisodeView,
    ShowView,
    episode_view,
    show_view,
)
from acbatch.spec.model import ShowConfig

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
OPTIONAL_FILES = (*TRANSCRIPT_FORMATS, CHAPTERS_FILE)


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
    report: RenderReport


def render_show(
    config: ShowConfig,
    episodes: Sequence[PublishedEpisode],
    *,
    now: datetime | None = None,
) -> RenderReport:
    """Render the show's outputs into config.paths.output; see the module docstring.

    Drafts and episodes dated after `now` (default: the current time) are left out. Raises a
    PublishError subclass (ShowSettingsError, ArtworkError, AudioFileError, TemplateError,
    FeedCheckError) when something the user must fix stops publishing.
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    with _rare_cyclic_gc():
        return _render(config, episodes, now)


def _render(
    config: ShowConfig, episodes: Sequence[PublishedEpisode], now: datetime
) -> RenderReport:
    show = config.show
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

    templates = Templates(config.paths.templates)
    image = publish_show_image(show.image, config.paths.config, output, show.base_url)
    if image is not None and image.relpath and image.copied:
        report.written.append(output / image.relpath)
    show_digest = fingerprint(__version__, repr(show), image.digest if image else "")
    shared = _Show(
        config=config,
        templates=templates,
        cache=RenderCache.load(config.paths.state / CACHE_FILE),
        image=image,
        view=show_view(show, image, now),
        audio_shared=fingerprint(__version__, show.title, show.author)[:16],
        files_shared=fingerprint(show_digest, *(templates.source(n) for n in FILE_TEMPLATES))[:16],
        items_shared=fingerprint(show_digest, *(templates.source(n) for n in ITEM_TEMPLATES))[:16],
        report=report,
    )

    records: list[EpisodeRecord] = []
    fresh: list[int] = []
    for episode in published:
        record, rendered_item = _publish_episode(episode, shared)
        if rendered_item or record.item_problems is None:
            fresh.append(len(records))
        records.append(record)
    known_ids = {e.id for e in episodes}
    cache = shared.cache
    stale = [k for k in cache.records if k not in known_ids]
    for episode_id in stale:
        del cache.records[episode_id]
        cache.touch()
    clock.lap("episodes")

    feed_text = templates.render(
        FEED_TEMPLATE, show=shared.view, items=[Markup(r.feed_item) for r in records]
    )
    feed_bytes = feed_text.encode("utf-8")
    clock.lap("feed")
    report.problems, feed_key = _check(feed_bytes, records, fresh, shared)
    clock.lap("check")
    if errors(report.problems):
        cache.save()
        raise FeedCheckError(
            f"{report.feed_path} (not written)",
            report.problems,
            _hints(report.problems, config.paths.config),
        )

    site_text = templates.render(
        SITE_TEMPLATE,
        show=shared.view,
        articles=[Markup(r.site_item) for r in records],
        episode_count=len(records),
    )
    clock.lap("site")
    # lastBuildDate is when the channel's content last changed: an unchanged feed is kept as is.
    if cache.feed_written_key != feed_key or not report.feed_path.is_file():
        write_atomic(report.feed_path, feed_bytes, durable=True)
        cache.feed_written_key = feed_key
        cache.touch()
        report.written.append(report.feed_path)
    site_bytes = site_text.encode("utf-8")
    site_key = hashlib.sha256(site_bytes).hexdigest()
    if cache.site_written_key != site_key or not report.site_path.is_file():
        write_atomic(report.site_path, site_bytes)
        cache.site_written_key = site_key
        cache.touch()
        report.written.append(report.site_path)
    cache.save()
    clock.lap("write")
    return report


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
    feed_bytes: bytes, records: list[EpisodeRecord], fresh: list[int], shared: _Show
) -> tuple[list[FeedProblem], str]:
    """Feed-check findings and the feed's content key (its hash without lastBuildDate).

    Unchanged content reuses the last findings. Otherwise, when only some items are new and the
    channel template is the built-in one, the channel and the new items are checked in a feed of
    their own and combined with the findings kept for the other items; guid uniqueness is
    checked across all items. Anything else checks the whole feed.
    """
    last_build = shared.view.last_build_date.encode("utf-8")
    key = hashlib.sha256(feed_bytes.replace(last_build, b"")).hexdigest()
    cache = shared.cache
    if key == cache.feed_check_key and not fresh:
        if cache.whole_feed_problems:
            return [FeedProblem.from_json(raw) for raw in cache.channel_problems], key
        return _combine(cache.channel_problems, records), key

    config = shared.config
    base_url = base_folder_url(config.show.base_url)
    partial = len(fresh) < len(records) and shared.templates.origin(FEED_TEMPLATE) == "built-in"
    if partial:
        checked = [records[i] for i in fresh]
        subset = shared.templates.render(
            FEED_TEMPLATE, show=shared.view, items=[Markup(r.feed_item) for r in checked]
        ).encode("utf-8")
        problems = check_feed(subset, local_root=config.paths.output, base_url=base_url)
    else:
        checked = records
        problems = check_feed(feed_bytes, local_root=config.paths.output, base_url=base_url)
        if shared.templates.origin(FEED_TEMPLATE) != "built-in":
            # A custom channel template may not list every item once, in order: keep the
            # findings for the whole feed as they are.
            for record in records:
                record.item_problems = []
            cache.feed_check_key = key
            cache.channel_problems = [p.to_json() for p in problems]
            cache.whole_feed_problems = True
            cache.touch()
            return problems, key

    channel: list[dict[str, Any]] = []
    per_item: dict[int, list[dict[str, Any]]] = {}
    for problem in problems:
        if problem.item_position is None:
            if problem.where == "document":  # not well-formed: nothing else can be trusted
                return [problem], key
            if not (partial and problem.where == "channel/item"):  # "no episodes yet"
                channel.append(problem.to_json())
        elif not problem.message.startswith(_DUPLICATE_GUID):
            raw = problem.to_json()
            del raw["item_position"]
            per_item.setdefault(problem.item_position, []).append(raw)
    for position, record in enumerate(checked, start=1):
        record.item_problems = per_item.get(position, [])
    if partial and not records:
        channel = [p for p in channel if p["where"] != "channel/item"]
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
    start = record.feed_item.find("<title>")
    end = record.feed_item.find("</title>", start)
    if start < 0 or end < 0:
        return f"#{position}"
    return html.unescape(record.feed_item[start + len("<title>") : end]).strip() or f"#{position}"


def _publish_episode(episode: PublishedEpisode, shared: _Show) -> tuple[EpisodeRecord, bool]:
    """Bring one episode's MP3 tags, files and fragments up to date.

    Returns its record and whether its feed item was rendered anew.
    """
    config = shared.config
    output = config.paths.output
    audio, audio_relpath, stat = _locate_audio(episode, output)
    image = publish_episode_image(episode.publish.image, episode.id, output, config.show.base_url)
    artwork_image = image if image is not None and image.artwork is not None else shared.image
    # Keys are short digests joined, not hashed again: cheap to build and compare.
    episode_digest = fingerprint(episode_identity(episode))[:32]
    artwork_digest = artwork_image.digest[:16] if artwork_image and artwork_image.artwork else ""
    image_digest = image.digest[:16] if image else ""
    audio_key = f"{shared.audio_shared}:{episode_digest}:{artwork_digest}"
    files_key = f"{shared.files_shared}:{audio_key}:{image_digest}"
    items_key = f"{shared.items_shared}:{audio_key}:{image_digest}"
    record = shared.cache.records.get(episode.id)

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
        and _files_exist(output, record.files)
    )
    items_current = audio_current and record is not None and record.items_key == items_key
    if record is not None and files_current and items_current:
        shared.report.unchanged.append(episode.id)
        return record, False

    turns: list[TimedTurn] = []
    if record is not None and audio_current:
        timeline, duration = record.timeline, record.duration
        size, mtime_ns = record.audio_size, record.audio_mtime_ns
        if files_current:
            chapters, has_transcript = list(record.chapters), record.has_transcript
        else:
            turns = timed_turns(episode.turns, timeline)
            chapters = layout_chapters(episode.highlights, turns, timeline)
            has_transcript = any(t.text for t in turns)
    else:
        audio_file = Path(audio)
        timeline = id3.measure_duration(audio_file)
        turns = timed_turns(episode.turns, timeline)
        chapters = layout_chapters(episode.highlights, turns, timeline)
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
    )
    if record is not None and files_current:
        files = record.files
    else:
        files = _write_episode_files(view, chapters, shared)
    if record is not None and items_current:
        feed_item, site_item = record.feed_item, record.site_item
        item_problems = record.item_problems
    else:
        item_problems = None
        render = shared.templates.render
        feed_item = render(FEED_ITEM_TEMPLATE, show=shared.view, episode=view).strip()
        site_item = render(SITE_ITEM_TEMPLATE, show=shared.view, episode=view).strip()

    updated = EpisodeRecord(
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
    )
    shared.cache.records[episode.id] = updated
    shared.cache.touch()
    return updated, item_problems is None


def _write_episode_files(
    view: EpisodeView, chapters: Sequence[object], shared: _Show
) -> tuple[str, ...]:
    output = shared.config.paths.output
    folder = output / EPISODES_FOLDER / view.id
    render = shared.templates.render
    files: dict[str, str] = {
        NOTES_MD: render(NOTES_MD_TEMPLATE, show=shared.view, episode=view),
        NOTES_HTML: render(NOTES_HTML_TEMPLATE, show=shared.view, episode=view),
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


def _files_exist(output: Path, files: Sequence[str]) -> bool:
    """All of an episode's files are still there (one directory listing, not a stat each)."""
    if not files:
        return True
    folder = files[0].rsplit("/", 1)[0]
    try:
        present = set(os.listdir(os.path.join(output, folder)))
    except OSError:
        return False
    return all(name.rsplit("/", 1)[-1] in present for name in files)


def _locate_audio(episode: PublishedEpisode, output: Path) -> tuple[str, str, os.stat_result]:
    """The MP3's path, its path relative to output/ (posix), and its stat; it must be inside."""
    audio = os.path.abspath(episode.audio_path)
    relative = _relative_inside(audio, os.path.abspath(output))
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


def _check_episode_ids(episodes: Sequence[PublishedEpisode]) -> None:
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
