"""`language:` takes the API's code, the English name or the language's own name."""

from __future__ import annotations

from pathlib import Path

import pytest

from acbatch import codes
from acbatch.project.loader import load_project
from tests.conftest import text_episode, write_show

SPELLINGS = [
    (code, spelling)
    for code in codes.LANGUAGES
    for spelling in (code, codes.LANGUAGES[code], *codes.LANGUAGE_NATIVE_NAMES[code])
]


@pytest.mark.parametrize(("code", "spelling"), SPELLINGS)
def test_every_spelling_becomes_the_code(tmp_path: Path, code: str, spelling: str) -> None:
    write_show(tmp_path, {"ep": text_episode(1, language=spelling, speakers=[16098])})
    project = load_project(tmp_path / "acbatch.yaml")
    assert not project.errors, project.errors
    assert project.episodes[0].language == code


def test_names_in_defaults_and_the_voice_language_check(tmp_path: Path) -> None:
    defaults = {"style": "interview", "duration": 1, "language": "日本語", "speakers": ["yui"]}
    write_show(tmp_path, {"ep": text_episode(1)}, defaults=defaults)
    project = load_project(tmp_path / "acbatch.yaml")
    assert not project.problems, project.problems  # yui speaks ja: no mismatch warning
    assert project.episodes[0].language == "ja"


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [("japanese", "Japanese"), ("Japanse", "Japanese"), ("русский", "Русский"), ("EN", "en")],
)
def test_near_misses_get_a_suggestion(tmp_path: Path, written: str, suggestion: str) -> None:
    write_show(tmp_path, {"ep": text_episode(1, language=written, speakers=[16098])})
    errors = load_project(tmp_path / "acbatch.yaml").errors
    assert [e.field for e in errors] == ["language"]
    assert errors[0].suggestion == suggestion
    assert "Japanese, 日本語" in errors[0].message


def test_the_accepted_spellings_are_unambiguous() -> None:
    values = codes.language_values()
    assert len(values) == len(set(values))
    assert {codes.language_code(v) for v in values} == set(codes.LANGUAGES)
