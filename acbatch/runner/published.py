"""From runner state to publishing: each downloaded episode becomes a PublishedEpisode."""

from __future__ import annotations

import functools
import hashlib
import json
import marshal
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from stat import S_ISREG
from typing import Any

from acbatch import __version__
from acbatch.cache import CacheStore
from acbatch.constants import ORIGINAL_AUDIO_SUFFIX
from acbatch.project.cache import regular_file_digest
from acbatch.project.model import Episode, Project, ShowInfo
from acbatch.publish.errors import PublishError
from acbatch.publish.model import (
    Highlight,
    KnownEpisode,
    Person,
    PublishedEpisode,
    RenderedEpisode,
    Turn,
    episode_digest,
)
from acbatch.publish.render import RenderReport, render_show
from acbatch.runner import bodies
from acbatch.runner.state import DONE_PHASES, EpisodeState, Phase, StateStore, parse_iso
from acbatch.voices import CatalogError, Voice, VoiceCatalog


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _turns(script: list[Any]) -> tuple[Turn, ...]:
    turns = []
    for item in script:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            turns.append(
                Turn(
                    role=str(item.get("role") or ""),
                    name=str(item.get("name") or ""),
                    text=item["text"],
                    start=_number(item.get("start_time")),
                    end=_number(item.get("end_time")),
                )
            )
    return tuple(turns)


def _highlights(items: list[Any], turn_count: int) -> tuple[Highlight, ...]:
    highlights = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("highlight"), str):
            continue
        start = item.get("script_start_index")
        end = item.get("script_end_index")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start = min(max(0, start), max(0, turn_count - 1))
        highlights.append(
            Highlight(
                title=item["highlight"],
                script_start_index=start,
                script_end_index=max(start, min(end, max(0, turn_count - 1))),
                start_time=_number(item.get("start_time")),
            )
        )
    return tuple(highlights)


def _voice(catalog: VoiceCatalog | None, ref: int | str) -> Voice | None:
    return catalog.find(ref) if catalog is not None else None


def _person(catalog: VoiceCatalog | None, ref: int | str, role: str) -> Person | None:
    """A speaker as podcast:person: the catalog's display name and image when it knows them."""
    voice = _voice(catalog, ref)
    name = voice.display_name if voice is not None else (ref if isinstance(ref, str) else "")
    if not name:
        return None
    return Person(name, role, (voice.image or None) if voice is not None else None)


def show_hosts(show: ShowInfo, catalog: VoiceCatalog | None) -> tuple[Person, ...]:
    """The show's hosts (`show.hosts`) as podcast:person for the channel."""
    people = (_person(catalog, ref, "host") for ref in show.hosts)
    return tuple(person for person in people if person is not None)


def episode_people(
    episode: Episode, show: ShowInfo, catalog: VoiceCatalog | None
) -> tuple[Person, ...]:
    """The episode's speakers in order: hosts (`show.hosts`, or everyone when it is not set)
    and guests."""
    host_ids = {voice.id for ref in show.hosts if (voice := _voice(catalog, ref)) is not None}
    people = []
    for ref in episode.speakers:
        voice = _voice(catalog, ref)
        host = not show.hosts or ref in show.hosts or (voice is not None and voice.id in host_ids)
        person = _person(catalog, ref, "host" if host else "guest")
        if person is not None and person not in people:
            people.append(person)
    return tuple(people)


def catalog_of(project: Project) -> VoiceCatalog | None:
    try:
        return VoiceCatalog.load(project.config.paths.voices)
    except CatalogError:  # names given as ids only; `validate` reports the catalog itself
        return None


def published_audio(state: EpisodeState) -> tuple[str, float, float, float | None] | None:
    """The published MP3 (path relative to the project), its duration, where the API's audio
    starts in it and how long that lasts; None while there is none yet.

    Episodes downloaded before mastering existed publish their download as it is until the next
    run masters it.
    """
    if state.mastered is not None:
        mastered = state.mastered
        return mastered.path, mastered.duration, mastered.speech_start, mastered.speech_seconds
    download = state.download
    if download is None or download.path.endswith(ORIGINAL_AUDIO_SUFFIX):
        return None
    return download.path, download.duration, 0.0, None


def published_episode(
    project: Project,
    episode: Episode,
    state: EpisodeState,
    catalog: VoiceCatalog | None = None,
) -> PublishedEpisode:
    published = published_audio(state)
    assert published is not None
    path, duration, speech_start, speech_seconds = published
    audio = state.audio.result or {}
    script = state.script.result or {}
    turns = _turns(audio.get("podcast_script") or script.get("podcast_script") or [])
    highlights = _highlights(
        audio.get("hightlights") or script.get("hightlights") or [], len(turns)
    )
    speakers = tuple(dict.fromkeys(t.speaker for t in turns))
    title = episode.title or audio.get("title") or script.get("title") or episode.id
    description = (
        episode.description
        or episode.overrides.get("description")
        or audio.get("processed_content")
        or script.get("processed_content")
        or ""
    )
    pub_date = (
        episode.publish.date
        or parse_iso(state.first_published)
        or parse_iso(state.download.downloaded_at if state.download else None)
        or datetime.now(timezone.utc)
    )
    source_link = episode.publish.link or (
        episode.source.value if episode.source.kind in ("url", "youtube", "attachment") else None
    )
    return PublishedEpisode(
        id=episode.id,
        guid=state.guid,
        title=str(title),
        description=str(description),
        audio_path=project.config.paths.root / path,
        duration=duration,
        turns=turns,
        highlights=highlights,
        speakers=speakers,
        pub_date=pub_date,
        publish=episode.publish,
        language=episode.language,
        source_link=source_link,
        people=episode_people(episode, project.config.show, catalog),
        speech_start=speech_start,
        speech_seconds=speech_seconds,
    )


SOURCES_AREA = "render-sources"
SOURCES_FORMAT = 3
"""Bumped when what published_episode reads, or a source row's fields, change."""


class _Sources:
    """What each episode was last published from, so that an unchanged one is not built again.

    An episode is built (its state file read and decoded, its turns and people made) from its
    spec, its state, the voice catalog and the show's hosts. The area's context holds the
    shared inputs; a row per episode holds a digest of its spec, its state file's identity and
    content digest, and what the render needs without building it. The row is written after
    the render saved the state, so a state file that still has the identity recorded is the one
    the episode was built from (a saved state is a new file: its inode and ctime change).
    """

    def __init__(self, project: Project, store: StateStore) -> None:
        self.project = project
        self.store = store
        self.root = project.config.paths.root
        self.folder = os.fspath(store.folder)
        self.rows: dict[str, list[Any]] = {}
        self.new_rows: list[tuple[str, Any, bytes]] = []
        self._catalog: tuple[VoiceCatalog | None] | None = None
        self.cache = CacheStore.open(project.config.paths.config.parent)
        self.area = None
        if self.cache is not None:
            self.area = self.cache.area(SOURCES_AREA, self._context())
            for key, meta, _data in self.area.rows():
                if isinstance(meta, list) and len(meta) == 8:
                    self.rows[key] = meta

    def _context(self) -> str:
        catalog = regular_file_digest(os.fspath(self.project.config.paths.voices))
        show = self.project.config.show
        return json.dumps([SOURCES_FORMAT, __version__, repr(show.hosts), catalog])

    @property
    def catalog(self) -> VoiceCatalog | None:
        if self._catalog is None:
            self._catalog = (catalog_of(self.project),)
        return self._catalog[0]

    def state_file(self, episode_id: str) -> tuple[str, str] | None:
        """The state file's path and identity (size, mtime, ctime, inode); None when it is
        not a regular file."""
        path = os.path.join(self.folder, self.store.file_name(episode_id))
        try:
            found = os.lstat(path)
        except OSError:
            return None
        if not S_ISREG(found.st_mode):
            return None
        return path, f"{found.st_size}:{found.st_mtime_ns}:{found.st_ctime_ns}:{found.st_ino}"

    def known(self, episode: Episode) -> tuple[KnownEpisode, bool, str] | None:
        """The episode as the last render published it, when nothing it is built from changed:
        (episode, whether it is finished, its audio path relative to the project).

        A state file with the identity recorded is the one the episode was built from. One
        with another identity but the same bytes (a checkout in CI, a copy) is too; its row
        then takes the new identity.
        """
        row = self.rows.get(episode.id)
        if row is None or row[0] != _spec_digest(episode):
            return None
        _spec, identity, content, pub_date, relpath, digest, finished, language = row
        found = self.state_file(episode.id)
        if found is None:
            return None
        if found[1] != identity:
            if regular_file_digest(found[0]) != content:
                return None
            self.new_rows.append((episode.id, [*row[:1], found[1], *row[2:]], b""))
        try:
            when = datetime.fromisoformat(pub_date)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None or language != episode.language:
            return None
        return (
            KnownEpisode(
                id=episode.id,
                pub_date=when,
                publish=episode.publish,
                language=episode.language,
                audio_path=self.root / relpath,
                digest=str(digest),
                build=functools.partial(self.build_again, episode),
            ),
            bool(finished),
            str(relpath),
        )

    def build_again(self, episode: Episode) -> PublishedEpisode:
        state = self.store.load(episode.id)
        if state is None or published_audio(state) is None:
            raise PublishError(f"episode '{episode.id}': its state changed during the render")
        return published_episode(self.project, episode, state, self.catalog)

    def remember(self, episode: Episode, built: PublishedEpisode, settled: _Settled) -> None:
        """Record what `built` was made from (after its state was saved for the last time)."""
        found = self.state_file(episode.id)
        content = regular_file_digest(found[0]) if found is not None else None
        if not settled.stable_date or found is None or content is None:
            return  # dated now: built again on every render
        row = [
            _spec_digest(episode),
            found[1],
            content,
            built.pub_date.isoformat(),
            os.path.relpath(built.audio_path, self.root),
            episode_digest(built),
            settled.finished,
            episode.language,
        ]
        self.new_rows.append((episode.id, row, b""))

    def save(self, current: set[str]) -> None:
        if self.area is not None:
            gone = sorted(key for key in self.rows if key not in current)
            if self.new_rows or gone:
                self.area.update(self.new_rows, gone)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


@dataclass(frozen=True, slots=True)
class _Settled:
    """What the end of a render needs of an episode's state, so that the state (its script
    and audio results) is not held meanwhile: tens of kilobytes an episode."""

    finished: bool
    to_move: bool
    """Its state is moved to `rendered` once the feed is written."""
    stable_date: bool
    """Its publication date does not depend on the moment of the render."""

    @classmethod
    def of(cls, episode: Episode, state: EpisodeState) -> _Settled:
        finished = state.phase in DONE_PHASES
        to_move = finished and (
            state.phase != Phase.RENDERED
            or state.render_fingerprint != bodies.render_fingerprint(episode)
        )
        stable = bool(
            episode.publish.date
            or state.first_published
            or (state.download.downloaded_at if state.download else None)
        )
        return cls(finished, to_move, stable)


def _spec_digest(episode: Episode) -> str:
    """A digest of everything published_episode reads from the episode's spec."""
    values = (
        episode.id,
        episode.base_id,
        episode.language,
        episode.output_language,
        episode.speakers,
        episode.raw,
    )
    try:
        data = marshal.dumps(values, 2)
    except ValueError:
        data = repr(values).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def render_project(
    project: Project, store: StateStore, *, now: datetime | None = None
) -> RenderReport:
    """Render notes, transcripts, chapters, tags, feed and site for every published episode.

    A finished episode whose audio file is missing stops the render with an error rather than
    dropping out of the feed: `acbatch run` fetches its audio again at no cost. An episode
    being redone stays published with its last audio until the new audio replaces it.
    """
    sources = _Sources(project, store)
    try:
        return _render_project(project, store, sources, now)
    finally:
        sources.close()


def _render_project(
    project: Project, store: StateStore, sources: _Sources, now: datetime | None
) -> RenderReport:
    root = project.config.paths.root
    ready: list[tuple[Episode, RenderedEpisode]] = []
    settled: dict[str, _Settled] = {}
    missing: list[str] = []
    for episode in project.episodes:
        if episode.draft:
            continue
        known = sources.known(episode)
        if known is not None:
            known_episode, finished, relpath = known
            if os.path.isfile(os.path.join(root, relpath)):
                ready.append((episode, known_episode))
                continue
            if finished:
                missing.append(episode.id)
                continue
        state = store.load(episode.id)
        if state is None or state.download is None:
            continue
        audio = published_audio(state)
        if audio is None:
            continue
        finished = state.phase in DONE_PHASES
        if not finished and state.first_published is None:
            continue
        if not (root / audio[0]).is_file():
            if finished:
                missing.append(episode.id)
            continue
        settled[episode.id] = _Settled.of(episode, state)
        ready.append((episode, published_episode(project, episode, state, sources.catalog)))
    if missing:
        raise PublishError(
            f"{len(missing)} published episode{'s' if len(missing) != 1 else ''} "
            f"{'have' if len(missing) != 1 else 'has'} no audio file under "
            f"{project.config.paths.output}: {', '.join(missing)}. Nothing was rendered, so the "
            "feed keeps them; `acbatch run` fetches their audio again at no cost"
        )
    hosts = show_hosts(project.config.show, sources.catalog) if project.config.show.hosts else ()
    published = [rendered for _episode, rendered in ready]
    languages = project.output_languages
    if languages:
        from acbatch.publish.multilingual import render_languages, with_alternates

        moment = now or datetime.now(timezone.utc)
        by_spec = list(zip([e.base_id for e, _rendered in ready], published, strict=True))
        published = with_alternates(project.config, by_spec, moment)
        report = render_languages(project.config, languages, published, now=moment, hosts=hosts)
    else:
        report = render_show(project.config, published, now=now, hosts=hosts)
    for episode, rendered in ready:
        done = settled.get(episode.id)
        if done is None:
            continue  # known from the last render: its state was settled then
        # Read again rather than held through the render (the project lock keeps it as it was).
        state = store.load(episode.id) if done.to_move else None
        if state is not None and state.phase in DONE_PHASES:
            state.render_fingerprint = bodies.render_fingerprint(episode)
            state.render_inputs = bodies.field_digests(bodies.render_inputs(episode))
            state.move(Phase.RENDERED, "notes, transcripts and feed rendered")
            store.save(state)
        assert isinstance(rendered, PublishedEpisode)
        sources.remember(episode, rendered, done)
    sources.save({episode.id for episode, _rendered in ready})
    return report
