"""Step 2 in the sandbox: a script becomes one MP3 with real offsets for turns and highlights."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acbatch.sandbox.tts import VoiceProfile
    from acbatch.voices import VoiceCatalog

SILENT_SAMPLE_RATE = 22050
SILENT_SECONDS = 2.0


@dataclass(frozen=True)
class Speech:
    script: list[dict[str, Any]]
    highlights: list[dict[str, Any]]
    duration: float


@functools.lru_cache(maxsize=1)
def silent_mp3(seconds: float = SILENT_SECONDS) -> bytes:
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(SILENT_SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    frames = bytes(2 * int(SILENT_SAMPLE_RATE * seconds))
    return bytes(encoder.encode(frames) + encoder.flush())


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def speaker_profiles(
    script: list[dict[str, Any]], language: str, catalog: VoiceCatalog | None
) -> dict[tuple[str, str], VoiceProfile]:
    """One offline voice per (role, voice_id) of a script, never the same for two of them.

    Catalog voices are mapped by gender, language and rank; when two speakers of one script
    would still sound alike (say two catalogs' first female voices), the later one moves on
    to the next voice of its gender.
    """
    from acbatch.sandbox.catalog import profile_for_voice_id

    chosen: dict[tuple[str, str], VoiceProfile] = {}
    roles: dict[str, int] = {}
    for turn in script:
        key = (turn["role"], str(turn.get("voice_id") or ""))
        if key in chosen:
            continue
        index = roles.setdefault(turn["role"], len(roles))
        profile = profile_for_voice_id(key[1], language, index, catalog=catalog)
        taken = set(chosen.values())
        shift = 0
        while profile in taken and shift < 64:
            shift += 1
            profile = _next_voice(profile, shift)
        chosen[key] = profile
    return chosen


def _next_voice(profile: VoiceProfile, shift: int) -> VoiceProfile:
    from dataclasses import replace

    return replace(profile, pitch=(profile.pitch + 7 * shift) % 101, rate=profile.rate + shift)


def render_speech(
    request: dict[str, Any],
    language: str,
    path: Path,
    *,
    synthesize: bool = True,
    catalog: VoiceCatalog | None = None,
) -> Speech:
    script = [dict(turn) for turn in request["podcast_script"]]
    if synthesize:
        from acbatch.sandbox.tts import synthesize as speak

        turns = []
        profiles = speaker_profiles(script, language, catalog)
        for turn in script:
            key = (turn["role"], str(turn.get("voice_id") or ""))
            turns.append((turn["text"], profiles[key]))
        result = speak(turns)
        mp3, duration, segments = result.mp3, result.duration, result.segments
    else:
        mp3, duration = silent_mp3(), SILENT_SECONDS
        step = duration / len(script)
        segments = [(i * step, (i + 1) * step) for i in range(len(script))]
    _write_atomically(path, mp3)
    for turn, (start, end) in zip(script, segments, strict=False):
        turn["start_time"] = round(start, 3)
        turn["end_time"] = round(end, 3)
    highlights = []
    for item in request.get("hightlights") or []:
        if not isinstance(item, dict):
            continue
        highlight = dict(item)
        start_index = highlight.get("script_start_index")
        if isinstance(start_index, int) and 0 <= start_index < len(segments):
            highlight["start_time"] = round(segments[start_index][0], 3)
        highlights.append(highlight)
    return Speech(script=script, highlights=highlights, duration=duration)
