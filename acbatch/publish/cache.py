"""What the last render produced, so unchanged episodes are not rendered again.

Per episode: the keys its MP3 tags, its files and its feed/page fragments were made from, the
MP3's size and mtime after tagging, its folder's mtime once its files were confirmed present,
its measured durations, the rendered fragments (UTF-8 bytes) and the feed check's findings for
its item. For the feed: the content key of the last checked and written feed and page. Kept in
the state folder as a small JSON header followed by the raw fragments (no JSON escaping of
megabytes of markup on every save).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from acbatch.publish.files import write_atomic
from acbatch.publish.model import Chapter

CACHE_FILE = ".publish-cache.bin"
MAGIC = b"acbatch-publish-cache 7\n"


@dataclass
class EpisodeRecord:
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
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, EpisodeRecord] = {}
        self.feed_check_key = ""
        self.channel_problems: list[dict[str, Any]] = []
        self.whole_feed_problems = False
        """channel_problems holds every finding of the whole feed (custom channel template)."""
        self.feed_written_key = ""
        self.site_written_key = ""
        self.dirty = False

    def touch(self) -> None:
        self.dirty = True

    @classmethod
    def load(cls, path: Path) -> RenderCache:
        """The cache at `path`; empty when it is missing, unreadable or from another version."""
        cache = cls(path)
        try:
            cache._parse(path.read_bytes())
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return cls(path)
        return cache

    def _parse(self, data: bytes) -> None:
        if not data.startswith(MAGIC):
            return
        newline = data.index(b"\n", len(MAGIC))
        header_length = int(data[len(MAGIC) : newline])
        start = newline + 1
        header = json.loads(data[start : start + header_length])
        position = start + header_length
        self.feed_check_key = str(header["feed_check_key"])
        self.channel_problems = list(header["channel_problems"])
        self.whole_feed_problems = bool(header["whole_feed_problems"])
        self.feed_written_key = str(header["feed_written"])
        self.site_written_key = str(header["site_written"])
        records = self.records
        for raw in header["episodes"]:
            (episode_id, audio, files_key, items, size, mtime, timeline, duration) = raw[:8]
            files, guid, chapters, has_transcript, problems, folder_mtime = raw[8:14]
            feed_end = position + int(raw[14])
            site_end = feed_end + int(raw[15])
            if site_end > len(data):
                raise ValueError("the cache file is truncated")
            records[str(episode_id)] = EpisodeRecord(
                audio_key=str(audio),
                files_key=str(files_key),
                items_key=str(items),
                audio_size=int(size),
                audio_mtime_ns=int(mtime),
                timeline=float(timeline),
                duration=float(duration),
                files=_expand(files),
                guid=str(guid),
                feed_item=data[position:feed_end],
                site_item=data[feed_end:site_end],
                chapters=tuple(Chapter(str(t), float(a), float(b)) for t, a, b in chapters),
                has_transcript=bool(has_transcript),
                item_problems=problems,
                folder_mtime_ns=int(folder_mtime),
            )
            position = site_end

    def save(self) -> None:
        """Write the cache if anything in it changed since it was loaded or last saved."""
        if not self.dirty:
            return
        episodes: list[list[Any]] = [
            [
                episode_id,
                record.audio_key,
                record.files_key,
                record.items_key,
                record.audio_size,
                record.audio_mtime_ns,
                record.timeline,
                record.duration,
                _compact(record.files),
                record.guid,
                record.chapters,  # Chapter tuples: JSON arrays
                record.has_transcript,
                record.item_problems,
                record.folder_mtime_ns,
                len(record.feed_item),
                len(record.site_item),
            ]
            for episode_id, record in self.records.items()
        ]
        header = json.dumps(
            {
                "feed_check_key": self.feed_check_key,
                "channel_problems": self.channel_problems,
                "whole_feed_problems": self.whole_feed_problems,
                "feed_written": self.feed_written_key,
                "site_written": self.site_written_key,
                "episodes": episodes,
            },
            separators=(",", ":"),
        ).encode("utf-8")
        write_atomic(self.path, self._pieces(header))
        self.dirty = False

    def _pieces(self, header: bytes) -> Iterator[bytes]:
        yield MAGIC + str(len(header)).encode() + b"\n"
        yield header
        for record in self.records.values():
            yield record.feed_item
            yield record.site_item


def _compact(files: tuple[str, ...]) -> list[Any]:
    """Paths sharing one folder as [folder, [names]] (each path in full otherwise)."""
    folder = files[0].rpartition("/")[0] if files else ""
    prefix = folder + "/"
    names = [path[len(prefix) :] for path in files]
    if folder and all(map(str.startswith, files, repeat(prefix))) and "/" not in "".join(names):
        return [folder, names]
    return [None, list(files)]


def _expand(stored: list[Any]) -> tuple[str, ...]:
    folder, names = stored
    if folder is None:
        return tuple(map(str, names))
    return tuple([f"{folder}/{name}" for name in names])
