"""The sandbox voice catalog and the repository's voices.json generated from it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from acbatch.codes import LANGUAGES
from acbatch.project.loader import load_project
from acbatch.project.model import Project
from acbatch.sandbox.audio_step import speaker_profiles
from acbatch.sandbox.catalog import catalog_json, profile_for_voice_id, sandbox_catalog
from acbatch.voices import VoiceCatalog, import_catalog, live_catalog_problems
from tests.conftest import acbatch, text_episode, write_show
from tests.double import catalog_document

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


# -- the demo catalog never reaches the real service --------------------------------------------


def _load(root: Path) -> Project:
    return load_project(root / "acbatch.yaml")


def test_the_demo_catalog_is_marked_and_its_voice_ids_are_sandbox_only() -> None:
    document = json.loads((REPO / "voices.json").read_text(encoding="utf-8"))
    assert document["sandbox"] is True
    assert "acbatch voices import" in document["message"]
    catalog = VoiceCatalog.from_document(document)
    assert catalog.sandbox
    assert all(v.voice_id.startswith("sandbox/") for v in catalog)
    unmarked = dict(document)
    del unmarked["sandbox"]
    assert VoiceCatalog.from_document(unmarked).sandbox  # the voice_ids alone give it away
    assert not VoiceCatalog.from_document(catalog_document()).sandbox


def test_live_check_refuses_demo_voice_names_and_overrides(tmp_path: Path) -> None:
    write_show(
        tmp_path,
        catalog="demo",
        episodes={
            "named": text_episode(1),
            "numbered": text_episode(2, speakers=[16098, 16093]),
            "override": text_episode(
                3, speakers=[16098], overrides={"voices": {"A": "nora", "B": "sandbox/sam"}}
            ),
        },
    )
    problems = live_catalog_problems(_load(tmp_path))
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    # The shared default [ava, leo] is said once, at acbatch.yaml's defaults.
    assert {(p.file.name, p.field) for p in errors} == {
        ("acbatch.yaml", "speakers[0]"),
        ("acbatch.yaml", "speakers[1]"),
        ("override.yaml", "overrides.voices.A"),
        ("override.yaml", "overrides.voices.B"),
    }
    assert all("TAI Podcast Master" in p.message and "voices import" in p.message for p in errors)
    assert all(p.line > 1 for p in errors)
    assert {(p.file.name, p.field) for p in warnings} == {
        ("numbered.yaml", "speakers[0]"),
        ("numbered.yaml", "speakers[1]"),
        ("override.yaml", "speakers[0]"),
    }


def test_validate_live_then_import_the_real_catalog(tmp_path: Path) -> None:
    write_show(
        catalog="demo", root=tmp_path, episodes={"ep-1": text_episode(1, speakers=["ava", 17830])}
    )
    sandbox = acbatch("validate", "--sandbox", cwd=tmp_path)
    assert sandbox.returncode == 0, sandbox.stderr  # offline, the demo voices are fine
    live = acbatch("validate", cwd=tmp_path)  # a live publish is what plain validate checks
    assert live.returncode == 1
    assert "specs/ep-1.yaml" in live.stderr and "speakers[0]" in live.stderr
    assert 'Developer > Playground > "TAI Podcast Master"' in live.stderr
    report = json.loads(acbatch("validate", "--live", "--json", cwd=tmp_path).stdout)
    assert not report["ok"]

    download = tmp_path / "download.json"
    download.write_text(json.dumps(catalog_document({"ava": 17827, "leo": 17828})))
    imported = acbatch("voices", "import", str(download), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "en" in imported.stdout and "installed 2 voices" in imported.stderr
    installed = VoiceCatalog.load(tmp_path / "voices.json")
    assert {v.id for v in installed} == {17827, 17828} and not installed.sandbox
    after = acbatch("validate", "--live", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert "speaker id 17830 is not in voices.json" in after.stderr  # a warning only
    project = _load(tmp_path)
    assert project.episodes[0].speaker_ids == (17827, 17830)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"code": 100001, "data": None, "message": "Need Login"}, "Need Login"),
        ({"code": 100000, "data": {"total": 0, "records": []}}, "no voices"),
        ({"records": []}, "data.records"),
        ({"code": 100000, "data": {"records": [{"id": "7"}]}}, "integer id"),
        (
            {"code": 100000, "data": {"records": [{"id": 7}, {"id": 7}]}},
            "appears twice",
        ),
        ("demo", "demo catalog"),
    ],
)
def test_import_refuses_what_is_not_an_account_catalog(
    tmp_path: Path, document: Any, words: str
) -> None:
    write_show(catalog="demo", root=tmp_path, episodes={"ep-1": text_episode(1)})
    before = (tmp_path / "voices.json").read_bytes()
    if document == "demo":
        document = sandbox_catalog().to_document()
    download = tmp_path / "download.json"
    download.write_text(json.dumps(document))
    result = acbatch("voices", "import", str(download), cwd=tmp_path)
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "voices.json").read_bytes() == before


def test_import_reports_voices_per_language_and_gender(tmp_path: Path) -> None:
    document = catalog_document({"a": 1, "b": 2, "c": 3})
    document["data"]["records"][2]["language"] = "ja"
    document["data"]["total"] = 4
    source = tmp_path / "dl.json"
    source.write_text(json.dumps(document))
    checked = import_catalog(source, tmp_path / "voices.json")
    assert checked.counts() == {"en": {"female": 1, "male": 1}, "ja": {"female": 1}}
    assert any("data.total says 4" in w for w in checked.warnings)
    assert json.loads((tmp_path / "voices.json").read_text()) == document


def test_the_sandbox_gives_distinct_catalog_voices_distinct_offline_voices() -> None:
    records = []
    for number in range(12):
        records.append(
            {
                "id": 1000 + number,
                "gender": 1 + number % 2,
                "gender_text": "male" if number % 2 == 0 else "female",
                "language": "en",
                "voice_id": f"https://voices.example.com/{number}.mp3",
                "name": f"v{number}",
            }
        )
    catalog = VoiceCatalog.from_document({"code": 100000, "data": {"records": records}})
    profiles = [profile_for_voice_id(v.step2_voice_id, "en", 0, catalog=catalog) for v in catalog]
    assert len(set(profiles)) == len(profiles)
    for voice, profile in zip(catalog, profiles, strict=True):
        assert ("+f" in profile.espeak_voice) == (voice.gender_text == "female")
    script = [{"role": r, "text": "Hi.", "voice_id": ""} for r in "ABC"]
    assert len(set(speaker_profiles(script, "en", catalog).values())) == 3


def test_doctor_fails_the_voice_check_only_for_a_remote_host(tmp_path: Path) -> None:
    from acbatch.doctor import check_voices

    write_show(catalog="demo", root=tmp_path, episodes={"ep-1": text_episode(1)})
    project = _load(tmp_path)
    remote = check_voices(project, "https://audiocleaner.ai")
    assert not remote.ok and "TAI Podcast Master" in remote.fix
    assert "demo catalog" in remote.detail
    local = check_voices(project, "http://127.0.0.1:8765")
    assert local.ok and "would be refused" in local.detail
    (tmp_path / "voices.json").write_text(json.dumps(catalog_document()), encoding="utf-8")
    assert check_voices(_load(tmp_path), "https://audiocleaner.ai").ok


def test_voices_lists_by_language_name(tmp_path: Path) -> None:
    write_show(catalog="demo", root=tmp_path, episodes={"ep-1": text_episode(1)})
    for name in ("ja", "Japanese", "日本語"):
        listed = acbatch("voices", "--language", name, "--json", cwd=tmp_path)
        records = json.loads(listed.stdout)["voices"]
        assert {r["name"] for r in records} == {"yui", "haruto"}, name
