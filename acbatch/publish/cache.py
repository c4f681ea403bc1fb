"""What the last render produced, so unchanged episodes are not rendered again.

Per episode: the keys its MP3 tags, its files and its feed/page fragments were made from, the
MP3's size and mtime after tagging, its measured durations, the rendered fragments and the feed
check's findings for its item. For the feed: the content key of the last checked and written
feed and page. Kept in the state folder as a small JSON header followed by the raw fragments
(no JSON escaping of megabytes of markup on every save).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acbatch.publish.files import write_atomic
from acbatch.publish.model import Chapter

CACHE_FILE = ".publish-cache.bin"
MAGIC = b"acbatch-publish-cache 5\n"


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
    feed_item: str
    site_item: str
    chapters: tuple[Chapter, ...] = ()
    has_transcript: bool = False
    item_problems: list[dict[str, Any]] | None = None
    """Feed-check findings for this item (position-free); None until its item is checked."""


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
        for raw in header["episodes"]:
            (episode_id, audio, files_key, items, size, mtime, timeline, duration) = raw[:8]
            files, guid, chapters, has_transcript, problems, feed_length, site_length = raw[8:]
            feed_item = data[position : position + feed_length].decode("utf-8")
            position += feed_length
            site_item = data[position : position + site_length].decode("utf-8")
            position += site_length
            self.records[str(episode_id)] = EpisodeRecord(
                audio_key=str(audio),
                files_key=str(files_key),
                items_key=str(items),
                audio_size=int(size),
                audio_mtime_ns=int(mtime),
                timeline=float(timeline),
                duration=float(duration),
                files=tuple(str(f) for f in files),
                guid=str(guid),
                feed_item=feed_item,
                site_item=site_item,
                chapters=tuple(Chapter(str(t), float(a), float(b)) for t, a, b in chapters),
                has_transcript=bool(has_transcript),
                item_problems=problems,
            )

    def save(self) -> None:
        """Write the cache if anything in it changed since it was loaded or last saved."""
        if not self.dirty:
            return
        episodes: list[list[Any]] = []
        blobs: list[bytes] = []
        for episode_id, record in self.records.items():
            feed_bytes = record.feed_item.encode("utf-8")
            site_bytes = record.site_item.encode("utf-8")
            blobs += [feed_bytes, site_bytes]
            episodes.append(
                [
                    episode_id,
                    record.audio_key,
                    record.files_key,
                    record.items_key,
                    record.audio_size,
                    record.audio_mtime_ns,
                    record.timeline,
                    record.duration,
                    list(record.files),
                    record.guid,
                    [[c.title, c.start, c.end] for c in record.chapters],
                    record.has_transcript,
                    record.item_problems,
                    len(feed_bytes),
                    len(site_bytes),
                ]
            )
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
        document = b"".join([MAGIC, str(len(header)).encode(), b"\n", header, *blobs])
        write_atomic(self.path, document)
        self.dirty = False
