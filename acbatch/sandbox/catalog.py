"""The sandbox's own voice catalog, in the documented voice-resource format, and how the
sandbox voices any catalog.

The repository's voices.json (and the one `acbatch init` writes) is generated from
`sandbox_catalog()`: a demo catalog, marked `"sandbox": true` at the top level, whose voice_ids
start with "sandbox/". Its ids mean nothing to the real service. A script turn's `voice_id`
is turned into an espeak-ng voice by `profile_for_voice_id`: a voice of whatever catalog the
sandbox serves (the demo one or a user's real one) gets an offline voice chosen by its gender
and its rank among the catalog's voices of the same language and gender, so distinct catalog
voices sound distinct.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from acbatch.sandbox.tts import VoiceProfile, voice_profile
from acbatch.voices import GENDERS, Voice, VoiceCatalog

VOICE_ID_PREFIX = "sandbox/"
SAMPLE_PATH = "/sandbox/voices/{name}.mp3"
"""Where the sandbox server serves each voice's sample."""

MALE, FEMALE = 1, 2
AGES = {2: "young-adult", 3: "middle-aged"}

# (id, name, language, gender, age, character tag)
_VOICES: tuple[tuple[int, str, str, int, int, str], ...] = (
    (16098, "ava", "en", FEMALE, 2, "Warm"),
    (16093, "leo", "en", MALE, 2, "Friendly"),
    (16101, "nora", "en", FEMALE, 3, "Calm"),
    (16102, "sam", "en", MALE, 3, "Deep"),
    (16110, "yui", "ja", FEMALE, 2, "Bright"),
    (16111, "haruto", "ja", MALE, 2, "Calm"),
    (16120, "lin", "zh", FEMALE, 2, "Warm"),
    (16121, "wei", "zh", MALE, 3, "Clear"),
    (16130, "wingyan", "zh_yue", FEMALE, 2, "Bright"),
    (16131, "chiho", "zh_yue", MALE, 3, "Warm"),
    (16140, "layla", "ar", FEMALE, 2, "Clear"),
    (16141, "omar", "ar", MALE, 3, "Deep"),
    (16150, "olga", "ru", FEMALE, 3, "Calm"),
    (16151, "ivan", "ru", MALE, 2, "Friendly"),
    (16160, "lucia", "es", FEMALE, 2, "Warm"),
    (16161, "mateo", "es", MALE, 2, "Bright"),
    (16170, "camille", "fr", FEMALE, 2, "Calm"),
    (16171, "louis", "fr", MALE, 3, "Warm"),
    (16180, "beatriz", "pt", FEMALE, 3, "Friendly"),
    (16181, "tiago", "pt", MALE, 2, "Clear"),
    (16190, "greta", "de", FEMALE, 2, "Clear"),
    (16191, "jonas", "de", MALE, 3, "Calm"),
    (16200, "seoyeon", "ko", FEMALE, 2, "Bright"),
    (16201, "minho", "ko", MALE, 2, "Warm"),
)


def _voice(voice_id: int, name: str, language: str, gender: int, age: int, tag: str) -> Voice:
    return Voice(
        id=voice_id,
        name=name,
        display_name=name.capitalize(),
        language=language,
        gender=gender,
        gender_text=GENDERS[gender],
        age=age,
        age_text=AGES[age],
        tags=("Sandbox", tag),
        image="",
        audio=SAMPLE_PATH.format(name=name),
        voice_id=f"{VOICE_ID_PREFIX}{name}",
        emotion=(),
    )


@lru_cache(maxsize=1)
def _voices() -> tuple[Voice, ...]:
    return tuple(_voice(*row) for row in _VOICES)


def sandbox_catalog() -> VoiceCatalog:
    """A fresh catalog of the sandbox's voices (callers may keep or mutate it)."""
    return VoiceCatalog(list(_voices()), sandbox=True)


def catalog_json() -> str:
    """The catalog document exactly as the repository's voices.json holds it."""
    return json.dumps(sandbox_catalog().to_document(), indent=2, ensure_ascii=False) + "\n"


def write_catalog_json(path: Path) -> None:
    path.write_text(catalog_json(), encoding="utf-8")


_GENDER_WORDS = {
    "female": ("female", "woman", "girl", "lady", "women"),
    "male": ("male", "man", "boy", "guy", "men"),
}


def _gender_hint(voice_id: str) -> str:
    """'female'/'male' when a foreign voice id names it (e.g. '..._Young_Man.mp3'), else ''."""
    words = set(re.findall(r"[a-z]+", voice_id.casefold()))
    for gender in ("female", "male"):
        if words.intersection(_GENDER_WORDS[gender]):
            return gender
    return ""


def catalog_rank(catalog: VoiceCatalog, voice: Voice) -> int:
    """The voice's position among the catalog's voices of the same language and gender."""
    gender = voice.gender_text.casefold()
    same = [
        v.id for v in catalog if v.language == voice.language and v.gender_text.casefold() == gender
    ]
    return same.index(voice.id) if voice.id in same else 0


def profile_for_voice_id(
    voice_id: str, language: str, index: int, *, catalog: VoiceCatalog | None = None
) -> VoiceProfile:
    """The espeak-ng voice for a script turn's `voice_id` at speaker position `index`.

    A voice of `catalog` (default: the demo catalog) keeps its gender and gets the offline
    voice of its rank among the catalog's voices of its language and gender. Ids from elsewhere
    still get a deterministic voice, distinct per speaker position (and gendered when the id
    says so). The words are spoken in `language`, the script's language.
    """
    voice = (catalog if catalog is not None else sandbox_catalog()).by_step2_voice_id(voice_id)
    if voice is not None and voice.gender_text.casefold() in ("female", "male"):
        return voice_profile(voice, language, catalog_rank(catalog or sandbox_catalog(), voice))
    gender = _gender_hint(voice_id)
    if gender:
        voice = Voice(id=0, name="", display_name="", language=language, gender_text=gender)
        return voice_profile(voice, language, index)
    return voice_profile(None, language, index)


if __name__ == "__main__":  # python -m acbatch.sandbox.catalog voices.json
    write_catalog_json(Path(sys.argv[1] if len(sys.argv) > 1 else "voices.json"))
