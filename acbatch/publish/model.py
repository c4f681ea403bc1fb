"""What the publishing layer is handed: finished episodes with their audio, script and highlights.

The runner builds one PublishedEpisode per episode whose MP3 is downloaded; everything here is
read-only input (API and spec text is untrusted and escaped wherever it is written out).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from acbatch.project.model import Publish


@dataclass(frozen=True)
class Turn:
    """One line of dialogue."""

    role: str
    name: str
    text: str
    start: float | None = None
    """Seconds into the audio when known (real offsets)."""
    end: float | None = None

    @property
    def speaker(self) -> str:
        return self.name.strip() or self.role.strip() or "Speaker"


@dataclass(frozen=True)
class Highlight:
    title: str
    script_start_index: int
    script_end_index: int
    start_time: float | None = None
    """Seconds, when the audio step reported it."""


class Person(NamedTuple):
    """Someone heard in the episode (podcast:person)."""

    name: str
    role: str
    """host or guest (the Podcasting 2.0 taxonomy's roles in the cast group)."""
    img: str | None = None
    """An http(s) URL of their picture (the voice catalog's image)."""


@dataclass(frozen=True)
class PublishedEpisode:
    id: str
    guid: str
    """Stable for the episode's life; used as-is."""
    title: str
    description: str
    """Plain text (untrusted)."""
    audio_path: Path
    """Absolute path of the MP3, inside the output folder (output/episodes/<id>/<id>.mp3)."""
    duration: float
    """Seconds, as reported; publishing measures the file again with mutagen."""
    turns: tuple[Turn, ...]
    highlights: tuple[Highlight, ...]
    speakers: tuple[str, ...]
    """Display names, in order."""
    pub_date: datetime
    """Timezone-aware."""
    publish: Publish
    language: str
    """API language code (en, ja, zh_yue...)."""
    source_link: str | None = None
    people: tuple[Person, ...] = ()
    """The episode's speakers as podcast:person, in speaking order."""
    alternates: tuple[tuple[str, str], ...] = ()
    """The same episode in the show's other languages (a show published per language):
    (hreflang, href from this episode's notes page). Not part of episode_digest: the notes
    key carries it (so an episode without any keeps the digest it always had)."""
    speech_start: float = 0.0
    """Seconds into the published file where the API's audio starts (after an intro jingle);
    turn and highlight times count from there."""
    speech_seconds: float | None = None
    """Length of the API's audio (None: the whole published file is speech)."""


@dataclass(frozen=True)
class KnownEpisode:
    """A published episode built from exactly the inputs of the last render, not built again.

    It carries what the feed's order and the render's change keys need; `full()` builds the
    whole PublishedEpisode (its state file read) only when something must be rendered again.
    Saves reading and decoding every unchanged episode's state on each render.
    """

    id: str
    pub_date: datetime
    publish: Publish
    language: str
    audio_path: Path
    digest: str
    """episode_digest() of the episode `build` returns."""
    build: Callable[[], PublishedEpisode]
    alternates: tuple[tuple[str, str], ...] = ()

    def full(self) -> PublishedEpisode:
        return replace(self.build(), alternates=self.alternates)


RenderedEpisode = PublishedEpisode | KnownEpisode
"""What the publishing layer renders: a built episode, or one known from the last render."""


def full_episode(episode: RenderedEpisode) -> PublishedEpisode:
    return episode.full() if isinstance(episode, KnownEpisode) else episode


def rendered_digest(episode: RenderedEpisode) -> str:
    """episode_digest() of the episode, without building a known one."""
    return episode.digest if isinstance(episode, KnownEpisode) else episode_digest(episode)


@dataclass(frozen=True)
class TimedTurn:
    """A turn placed on the audio's timeline (measured or apportioned)."""

    speaker: str
    text: str
    start: float
    end: float


class Chapter(NamedTuple):
    """A named span of the audio (a tuple: thousands are loaded from the cache per render)."""

    title: str
    start: float
    end: float


class Soundbite(NamedTuple):
    """A highlight's stretch of the audio (podcast:soundbite)."""

    title: str
    start: float
    duration: float


def published_subset(
    episodes: Sequence[RenderedEpisode], now: datetime
) -> tuple[list[RenderedEpisode], dict[str, str]]:
    """Episodes that belong in the feed (newest first) and why the others were left out."""
    kept: list[RenderedEpisode] = []
    left_out: dict[str, str] = {}
    for episode in episodes:
        if episode.publish.draft:
            left_out[episode.id] = "draft"
        elif episode.pub_date > now:
            left_out[episode.id] = f"scheduled for {episode.pub_date.isoformat()}"
        else:
            kept.append(episode)
    kept.sort(key=lambda e: (e.pub_date, e.id), reverse=True)
    return kept, left_out


def _getter(cls: type, *, skip: tuple[str, ...] = ()) -> attrgetter[tuple[object, ...]]:
    names = [f.name for f in fields(cls) if f.name not in skip]
    return attrgetter(*names)


_TURN_VALUES = _getter(Turn)
_HIGHLIGHT_VALUES = _getter(Highlight)
_EPISODE_VALUES = _getter(PublishedEpisode, skip=("turns", "highlights", "alternates"))
_PUBLISH_VALUES = _getter(Publish)


_IDENTITY_ENCODER = json.JSONEncoder(
    default=repr, ensure_ascii=False, check_circular=False, separators=(",", ":")
)


def episode_identity(episode: PublishedEpisode) -> str:
    """Every field of the episode as one deterministic string (for change detection).

    Same content as repr(episode), built with the C JSON encoder: long transcripts make a
    dataclass repr (a recursion guard and an escaping pass per turn) noticeably slower.
    """
    return _IDENTITY_ENCODER.encode(
        (
            _EPISODE_VALUES(episode),
            tuple(map(_TURN_VALUES, episode.turns)),
            tuple(map(_HIGHLIGHT_VALUES, episode.highlights)),
        )
    )


# Values marshal writes the same way in every process; anything else goes in as its repr.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
# Version 2 has no back-references, so equal values give equal bytes (interned or not).
_MARSHAL_VERSION = 2


def _publish_values(publish: Publish) -> list[object]:
    return [v if type(v) in _PLAIN_TYPES else repr(v) for v in _PUBLISH_VALUES(publish)]


# Cheaper than repr() for the field types every episode has.
_ENCODERS: dict[type, Callable[[Any], object]] = {
    Publish: _publish_values,
    type(Path()): os.fspath,
}


def episode_digest(episode: PublishedEpisode) -> str:
    """A digest of every field of the episode (for change detection).

    Hashes the fields' marshal encoding: a fraction of the cost of episode_identity() for
    long transcripts. Falls back to episode_identity() for values marshal cannot write.
    """
    plain = _PLAIN_TYPES
    encoders = _ENCODERS
    values = [
        value if type(value) in plain else encoders.get(type(value), repr)(value)
        for value in _EPISODE_VALUES(episode)
    ]
    try:
        data = marshal.dumps(
            (
                values,
                list(map(_TURN_VALUES, episode.turns)),
                list(map(_HIGHLIGHT_VALUES, episode.highlights)),
            ),
            _MARSHAL_VERSION,
        )
    except ValueError:
        data = episode_identity(episode).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
