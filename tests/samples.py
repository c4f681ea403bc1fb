"""Small real inputs for the publishing layer: MP3 tones, PNG artwork and sample shows.

Used by the tests and the render benchmark; everything is generated, nothing is downloaded.
"""

from __future__ import annotations

import array
import math
import struct
import zlib
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import lameenc

from acbatch.project.defaults import api_defaults, build
from acbatch.project.model import Owner, Paths, Publish, ShowConfig, ShowInfo
from acbatch.publish.model import Highlight, PublishedEpisode, Turn

SAMPLE_RATE = 22050
COVER_PX = 1400
"""Sample artwork is the smallest size Apple accepts."""


def mp3_bytes(seconds: float, frequency: float = 440.0, bitrate_kbps: int = 32) -> bytes:
    """A mono 22.05 kHz MP3 of a sine tone."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    count = int(SAMPLE_RATE * seconds)
    step = 2 * math.pi * frequency / SAMPLE_RATE
    pcm = array.array("h", (int(8000 * math.sin(step * i)) for i in range(count)))
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


def write_mp3(path: Path, seconds: float, frequency: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mp3_bytes(seconds, frequency))
    return path


@lru_cache(maxsize=8)
def png_bytes(size: int = 16, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A solid-colour RGB PNG, `size` pixels square."""
    row = b"\x00" + bytes(rgb) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sample_config(
    root: Path,
    *,
    base_url: str = "https://podcasts.example.com/show/",
    image: str | None = "cover.png",
    **show_fields: object,
) -> ShowConfig:
    """A project rooted at `root` (acbatch.yaml need not exist); writes the cover image."""
    root.mkdir(parents=True, exist_ok=True)
    if image and not image.startswith(("http://", "https://")):
        (root / image).write_bytes(png_bytes(COVER_PX))
    fields: dict[str, object] = {
        "title": "Sample Show",
        "description": "A show about samples.",
        "author": "Sample Author",
        "language": "en",
        "base_url": base_url,
        "owner": Owner("Sample Owner", "owner@example.com"),
        "categories": ("Technology", "Science/Natural Sciences"),
        "image": image,
    }
    fields.update(show_fields)
    paths = Paths(
        root=root,
        config=root / "acbatch.yaml",
        specs=root / "specs",
        state=root / "state",
        output=root / "output",
        templates=root / "templates",
        voices=root / "voices.json",
    )
    return ShowConfig(
        show=build(ShowInfo, **fields),
        defaults={},
        api=api_defaults(),
        paths=paths,
    )


def sample_episode(
    config: ShowConfig,
    episode_id: str,
    *,
    seconds: float = 3.0,
    pub_date: datetime | None = None,
    title: str | None = None,
    description: str = "What this episode is about.",
    turns: tuple[Turn, ...] | None = None,
    highlights: tuple[Highlight, ...] | None = None,
    publish: Publish | None = None,
    write_audio: bool = True,
    language: str = "en",
) -> PublishedEpisode:
    """An episode whose MP3 sits where the runner puts it: output/episodes/<id>/<id>.mp3."""
    audio = config.paths.output / "episodes" / episode_id / f"{episode_id}.mp3"
    if write_audio:
        write_mp3(audio, seconds)
    if turns is None:
        turns = (
            Turn("A", "Alice", "Welcome to the show, today we talk about samples."),
            Turn("B", "Bob", "Thanks. Samples are small and real."),
            Turn("A", "Alice", "That is all for today."),
        )
    if highlights is None:
        highlights = (Highlight("Welcome", 0, 0), Highlight("Small and real", 1, 2))
    return PublishedEpisode(
        id=episode_id,
        guid=f"urn:acbatch:{episode_id}",
        title=title or f"Episode {episode_id}",
        description=description,
        audio_path=audio,
        duration=seconds,
        turns=turns,
        highlights=highlights,
        speakers=tuple(dict.fromkeys(t.name for t in turns)),
        pub_date=pub_date or datetime(2024, 1, 1, tzinfo=timezone.utc),
        publish=publish or build(Publish),
        language=language,
        source_link="https://source.example.com/article",
    )
