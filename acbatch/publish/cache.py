"""What the last render produced, so unchanged episodes are not rendered again.

Per episode: the keys its MP3 tags, its files and its feed/page fragments were made from, the
MP3's size and mtime after tagging, its folder's mtime once its files were confirmed present,
its measured durations, the rendered fragments (UTF-8 bytes) and the feed check's findings for
its item. For the feed: the content key of the last checked and written feed and page.

Kept in the project's cache store (acbatch.cache), one row per episode: a render that changed
one episode writes one row. Without a usable store every render starts cold (and still works).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acbatch.cache import CacheArea, CacheStore
from acbatch.publish.model import Chapter

RECORD_FORMAT = 1
"""Bumped when EpisodeRecord's stored fields change (older rows are then dropped)."""
EPISODES_AREA = "render-episodes"
FEED_AREA = "render-feed"
_FEED_KEY = "feed"


@dataclass
class EpisodeRecord:
    episode_id: str
    audio_key: str
    files_key: str
    items_key: str
    audio_size: int
    audio_mtime_ns: int
    timeline: float
    """Seconds the turns and chapters were laid out on (measured before tagging)."""
    duration: float
    """Seconds mutagen measures on the tagged file."""
    files: tuple[str, ...]
    """Per-episode files written, relative to output/."""
    guid: str
    feed_item: bytes
    site_item: bytes
    chapters: tuple[Chapter, ...] = ()
    has_transcript: bool = False
    item_problems: list[dict[str, Any]] | None = None
    """Feed-check findings for this item (position-free); None until its item is checked."""
    folder_mtime_ns: int = 0
    """The files' folder mtime when they were last seen all present (0: list the folder)."""


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


class RenderCache:
    """The records of the last render; change them through put(), remove() and changed()."""

    def __init__(
        self, store: CacheStore | None = None, output: Path | None = None, part: str = ""
    ) -> None:
        self.store = store
        self.records: dict[str, EpisodeRecord] = {}
        self.feed_check_key = ""
        self.channel_problems: list[dict[str, Any]] = []
        self.whole_feed_problems = False
        """channel_problems holds every finding of the whole feed (custom channel template)."""
        self.feed_written_key = ""
        self.site_written_key = ""
        self._changed: set[str] = set()
        self._removed: set[str] = set()
        self._feed_changed = False
        self._episodes: CacheArea | None = None
        self._feed: CacheArea | None = None
        if store is not None:
            # Records name files under the output folder: another folder, other records.
            context = json.dumps([RECORD_FORMAT, str(output)])
            # One language of a show published per language keeps its own areas (`part`).
            suffix = f".{part}" if part else ""
            self._episodes = store.area(EPISODES_AREA + suffix, context)
            self._feed = store.area(FEED_AREA + suffix, context)

    @classmethod
    def load(cls, root: Path, output: Path, part: str = "") -> RenderCache:
        """The cache of the project in `root` rendering into `output` (empty when unusable);
        `part`: the language, for one language of a show published per language."""
        cache = cls(CacheStore.open(root), output, part)
        cache._read()
        return cache

    def _read(self) -> None:
        if self._feed is not None:
            for _key, meta, _data in self._feed.rows():
                try:
                    self.feed_check_key = str(meta["feed_check_key"])
                    self.channel_problems = list(meta["channel_problems"])
                    self.whole_feed_problems = bool(meta["whole_feed_problems"])
                    self.feed_written_key = str(meta["feed_written"])
                    self.site_written_key = str(meta["site_written"])
                except (KeyError, TypeError, ValueError):
                    self.feed_check_key = self.feed_written_key = self.site_written_key = ""
        if self._episodes is not None:
            for key, meta, data in self._episodes.rows():
                try:
                    self.records[key] = _record(key, meta, data)
                except (KeyError, TypeError, ValueError, IndexError):
                    self._removed.add(key)

    def put(self, record: EpisodeRecord) -> None:
        self.records[record.episode_id] = record
        self.changed(record.episode_id)

    def remove(self, episode_id: str) -> None:
        if self.records.pop(episode_id, None) is not None:
            self._removed.add(episode_id)
            self._changed.discard(episode_id)

    def changed(self, episode_id: str) -> None:
        """The record of `episode_id` was changed in place: save it."""
        self._changed.add(episode_id)
        self._removed.discard(episode_id)

    def touch(self) -> None:
        """The feed's keys or findings changed: save them."""
        self._feed_changed = True

    def save(self) -> None:
        """Write what changed since the cache was loaded or last saved (a failure is ignored)."""
        if self._episodes is not None and (self._changed or self._removed):
            rows = [_row(self.records[k]) for k in sorted(self._changed) if k in self.records]
            self._episodes.update(rows, sorted(self._removed))
        if self._feed is not None and self._feed_changed:
            meta = {
                "feed_check_key": self.feed_check_key,
                "channel_problems": self.channel_problems,
                "whole_feed_problems": self.whole_feed_problems,
                "feed_written": self.feed_written_key,
                "site_written": self.site_written_key,
            }
            self._feed.update([(_FEED_KEY, meta, b"")])
        self._changed, self._removed, self._feed_changed = set(), set(), False

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _row(record: EpisodeRecord) -> tuple[str, Any, bytes]:
    meta = [
        record.audio_key,
        record.files_key,
        record.items_key,
        record.audio_size,
        record.audio_mtime_ns,
        record.timeline,
        record.duration,
        list(record.files),
        record.guid,
        [list(chapter) for chapter in record.chapters],
        record.has_transcript,
        record.item_problems,
        record.folder_mtime_ns,
        len(record.feed_item),
    ]
    return record.episode_id, meta, record.feed_item + record.site_item


def _record(episode_id: str, meta: list[Any], data: bytes) -> EpisodeRecord:
    (audio, files_key, items, size, mtime, timeline, duration, files, guid) = meta[:9]
    chapters, has_transcript, problems, folder_mtime, feed_length = meta[9:14]
    feed_length = int(feed_length)
    if not 0 <= feed_length <= len(data):
        raise ValueError("the stored fragments are truncated")
    return EpisodeRecord(
        episode_id=episode_id,
        audio_key=str(audio),
        files_key=str(files_key),
        items_key=str(items),
        audio_size=int(size),
        audio_mtime_ns=int(mtime),
        timeline=float(timeline),
        duration=float(duration),
        files=tuple(map(str, files)),
        guid=str(guid),
        feed_item=data[:feed_length],
        site_item=data[feed_length:],
        chapters=tuple(Chapter(str(t), float(a), float(b)) for t, a, b in chapters),
        has_transcript=bool(has_transcript),
        item_problems=problems,
        folder_mtime_ns=int(folder_mtime),
    )
