"""ID3v2.4 tags and chapters written into an episode's MP3, atomically and idempotently."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mutagen import MutagenError
from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TDRC,
    TIT2,
    TPE1,
    TRCK,
    CTOCFlags,
    ID3NoHeaderError,
)
from mutagen.mp3 import MPEGInfo

from acbatch.publish.errors import AudioFileError
from acbatch.publish.model import Chapter

# Frames acbatch owns: removed before writing so re-rendering replaces rather than stacks.
OWNED_FRAMES = ("TIT2", "TPE1", "TALB", "TRCK", "TDRC", "COMM", "APIC", "CHAP", "CTOC")
TOC_ID = "toc"
NO_OFFSET = 0xFFFFFFFF

# API language codes -> ISO 639-2 (what COMM's language field wants).
ISO639_2 = {
    "zh": "zho",
    "zh_yue": "zho",
    "en": "eng",
    "ar": "ara",
    "ru": "rus",
    "es": "spa",
    "fr": "fra",
    "pt": "por",
    "de": "deu",
    "ja": "jpn",
    "ko": "kor",
}


@dataclass(frozen=True)
class Artwork:
    data: bytes
    mime: str


@dataclass(frozen=True)
class EpisodeTags:
    title: str
    artist: str
    album: str
    date: datetime
    comment: str
    language: str
    track: int | None = None
    artwork: Artwork | None = None
    chapters: tuple[Chapter, ...] = ()


def chapter_id(index: int) -> str:
    return f"chp{index}"


def build_tags(existing: ID3, tags: EpisodeTags) -> ID3:
    for frame_id in OWNED_FRAMES:
        existing.delall(frame_id)
    existing.add(TIT2(encoding=3, text=[tags.title]))
    existing.add(TPE1(encoding=3, text=[tags.artist]))
    existing.add(TALB(encoding=3, text=[tags.album]))
    when = tags.date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    existing.add(TDRC(encoding=3, text=[when]))
    lang = ISO639_2.get(tags.language, "und")
    existing.add(COMM(encoding=3, lang=lang, desc="", text=[tags.comment]))
    if tags.track is not None:
        existing.add(TRCK(encoding=3, text=[str(tags.track)]))
    if tags.artwork is not None:
        existing.add(
            APIC(encoding=3, mime=tags.artwork.mime, type=3, desc="Cover", data=tags.artwork.data)
        )
    if tags.chapters:
        ids = [chapter_id(i) for i in range(len(tags.chapters))]
        for element_id, chapter in zip(ids, tags.chapters, strict=True):
            existing.add(
                CHAP(
                    element_id=element_id,
                    start_time=round(chapter.start * 1000),
                    end_time=round(chapter.end * 1000),
                    start_offset=NO_OFFSET,
                    end_offset=NO_OFFSET,
                    sub_frames=[TIT2(encoding=3, text=[chapter.title])],
                )
            )
        existing.add(
            CTOC(
                element_id=TOC_ID,
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=["Chapters"])],
            )
        )
    return existing


def measure_duration(path: Path) -> float:
    """The MP3's playing time in seconds, as mutagen.mp3.MP3(path).info.length reports it.

    Only the ID3 header is read to find where the audio starts; parsing every frame (cover art
    included) as MP3() does would double the cost of tagging an episode.
    """
    try:
        with path.open("rb") as audio:
            offset = _id3v2_size(audio.read(10))
            return float(MPEGInfo(audio, offset).length)
    except (MutagenError, OSError) as exc:
        raise AudioFileError(f"{path}: not a readable MP3 ({exc})") from exc


def _id3v2_size(header: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag (header, frames and footer), 0 when there is none."""
    if len(header) < 10 or header[:3] != b"ID3":
        return 0
    size = 0
    for byte in header[6:10]:
        size = (size << 7) | (byte & 0x7F)
    has_footer = header[3] == 4 and header[5] & 0x10
    return 10 + size + (10 if has_footer else 0)


def write_tags(path: Path, tags: EpisodeTags) -> None:
    """Tag a copy in the same folder, fsync it, then atomically replace the original."""
    if not path.is_file():
        raise AudioFileError(f"{path}: the episode's MP3 is missing")
    folder = path.parent
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out, path.open("rb") as source:
            shutil.copyfileobj(source, out, 1024 * 1024)
        try:
            existing = ID3(str(temp))
        except ID3NoHeaderError:
            existing = ID3()
        build_tags(existing, tags).save(str(temp), v2_version=4)
        with temp.open("rb+") as synced:
            os.fsync(synced.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except (MutagenError, OSError) as exc:
        temp.unlink(missing_ok=True)
        raise AudioFileError(f"{path}: could not write ID3 tags ({exc})") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; some filesystems refuse directory fsync, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
