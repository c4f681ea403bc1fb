"""The sandbox voice catalog and the repository's voices.json generated from it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from acbatch.codes import LANGUAGES
from acbatch.sandbox.catalog import catalog_json, profile_for_voice_id, sandbox_catalog
from acbatch.voices import VoiceCatalog

REPO = Path(__file__).resolve().parent.parent

REQUIRED = [
    (16098, "ava", "en", "female"),
    (16093, "leo", "en", "male"),
    (16101, "nora", "en", "female"),
    (16102, "sam", "en", "male"),
    (16110, "yui", "ja", "female"),
    (16111, "haruto", "ja", "male"),
    (16120, "lin", "zh", "female"),
    (16121, "wei", "zh", "male"),
]


@pytest.mark.parametrize(("voice_id", "name", "language", "gender"), REQUIRED)
def test_required_voices(voice_id: int, name: str, language: str, gender: str) -> None:
    voice = sandbox_catalog().by_id(voice_id)
    assert voice is not None
    assert (voice.name, voice.language, voice.gender_text) == (name, language, gender)
    assert voice.gender == {"male": 1, "female": 2}[gender]


def test_every_api_language_has_a_female_and_a_male_voice() -> None:
    catalog = sandbox_catalog()
    for language in LANGUAGES:
        genders = Counter(v.gender_text for v in catalog.filter(language=language))
        assert genders["female"] >= 1 and genders["male"] >= 1, language
    assert {v.language for v in catalog} == set(LANGUAGES)


def test_records_follow_the_documented_format() -> None:
    catalog = sandbox_catalog()
    names = [v.name for v in catalog]
    assert len(set(names)) == len(names)
    assert len({v.id for v in catalog}) == len(catalog)
    for voice in catalog:
        assert voice.name.isascii() and voice.name.isalpha() and voice.name.islower()
        assert voice.display_name == voice.name.capitalize()
        assert voice.voice_id == f"sandbox/{voice.name}"
        assert voice.step2_voice_id == voice.voice_id
        assert voice.audio == f"/sandbox/voices/{voice.name}.mp3"
        assert voice.tags[0] == "Sandbox" and len(voice.tags) >= 2
        assert voice.age_text and voice.image == "" and voice.emotion == ()
    document = catalog.to_document()
    assert document["code"] == 100000 and document["data"]["total"] == len(catalog)
    assert VoiceCatalog.from_document(document).voices == catalog.voices


def test_catalog_finds_voices_by_name() -> None:
    catalog = sandbox_catalog()
    assert catalog.find("Haruto") == catalog.by_id(16111)
    assert catalog.by_step2_voice_id("sandbox/lin") == catalog.by_id(16120)


def test_repository_voices_json_matches_the_catalog() -> None:
    text = (REPO / "voices.json").read_text(encoding="utf-8")
    assert text == catalog_json()
    assert json.loads(text) == sandbox_catalog().to_document()
    assert VoiceCatalog.load(REPO / "voices.json").voices == sandbox_catalog().voices


def test_profiles_for_sandbox_voices_keep_gender_and_script_language() -> None:
    ava = profile_for_voice_id("sandbox/ava", "ja", 0)
    leo = profile_for_voice_id("sandbox/leo", "ja", 1)
    assert ava.espeak_voice.startswith("ja+f")
    assert leo.espeak_voice.startswith("ja+m")
    nora = profile_for_voice_id("sandbox/nora", "en", 1)
    assert nora.espeak_voice.startswith("en-us+f")
    assert nora != profile_for_voice_id("sandbox/ava", "en", 0)


def test_unknown_voice_ids_still_get_deterministic_distinct_voices() -> None:
    foreign = "https://resource.example/voices/Narrator.mp3"
    assert profile_for_voice_id(foreign, "en", 2) == profile_for_voice_id(foreign, "en", 2)
    profiles = {profile_for_voice_id(foreign, "en", index) for index in range(4)}
    assert len(profiles) == 4
    assert profile_for_voice_id("", "es", 0).espeak_voice.startswith("es+")


def test_gender_named_in_a_foreign_voice_id_is_respected() -> None:
    man = "https://r.example/zh/Chinese (Mandarin)_Unrestrained_Young_Man.mp3"
    woman = "https://r.example/en/Calm_Woman.mp3"
    assert profile_for_voice_id(man, "zh", 0).espeak_voice.startswith("cmn+m")
    assert profile_for_voice_id(woman, "en", 1).espeak_voice.startswith("en-us+f")
