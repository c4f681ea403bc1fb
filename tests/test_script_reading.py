"""Scripts the sandbox writes read well, in every language, style and duration.

Over more than a hundred episodes: every sentence is complete and ends with punctuation;
chapter titles (highlights) are whole phrases of at most 60 characters, or cut at a word
boundary with an ellipsis, and no two chapters of an episode share a title.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from acbatch.codes import DURATION_BY_LEVEL, LANGUAGES, STYLE_NAMES, language_code
from acbatch.sandbox.catalog import sandbox_catalog
from acbatch.sandbox.scriptwriter import (
    PHRASE_KEYS,
    PHRASES_DIR,
    TERMINAL_PUNCTUATION,
    chapter_title,
    cut_at_word,
    digest_source,
    phrases_for,
    unique_titles,
    write_script,
)

SOURCES: dict[str, str] = json.loads(
    (Path(__file__).parent / "data" / "sources-by-language.json").read_text(encoding="utf-8")
)
REPO = Path(__file__).resolve().parent.parent
CATALOG = sandbox_catalog()
CLOSING = "\"'”’)]»」』"
SENTENCE_END = re.compile(r"(?<=[.!?…。！？؟])[\"'”’)\]»」』]*(?:\s+|(?=\S))")
PHRASE_BREAKS = (";", ":", "；", "：")
DANGLING = {"a", "an", "the", "and", "or", "of", "to", "but"}


def spec_sources() -> list[tuple[str, str]]:
    """(language, text) of the example show's specs with a text source."""
    import yaml

    found = []
    for spec in sorted((REPO / "specs").glob("*.yaml")):
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
        if "text" in data.get("source", {}):
            found.append((language_code(data.get("language", "en")), data["source"]["text"]))
    return found


def episodes() -> list[tuple[str, str, int, int, int]]:
    """(language, source, style, duration, speakers): every style and duration in every
    language, plus the example show's own texts at every duration."""
    cases = []
    for number, language in enumerate(sorted(LANGUAGES)):
        for style in STYLE_NAMES:
            duration = 1 + (number + style) % len(DURATION_BY_LEVEL)
            cases.append((language, SOURCES[language], style, duration, 2 + style % 2))
    for language, text in spec_sources():
        for duration in DURATION_BY_LEVEL:
            cases.append((language, text, 1 + duration % 9, duration, 2))
    return cases


EPISODES = episodes()


def test_the_corpus_covers_over_a_hundred_episodes() -> None:
    assert len(EPISODES) > 100
    assert {e[0] for e in EPISODES} == set(LANGUAGES)
    assert {e[2] for e in EPISODES} == set(STYLE_NAMES)
    assert {e[3] for e in EPISODES} == set(DURATION_BY_LEVEL)


def sentences(text: str) -> list[str]:
    return [piece.strip() for piece in SENTENCE_END.split(text) if piece.strip()]


def ends_a_sentence(sentence: str) -> bool:
    return sentence.rstrip(CLOSING)[-1:] in tuple(TERMINAL_PUNCTUATION)


def written(language: str, source: str, style: int, duration: int, count: int) -> dict[str, Any]:
    female = CATALOG.filter(language=language, gender="female")
    male = CATALOG.filter(language=language, gender="male")
    speakers = [female[0], male[0], female[-1] if len(female) > 1 else male[-1]][:count]
    return write_script(
        source,
        style=style,
        duration=duration,
        language=language,
        speakers=speakers,
        source_data="",
    )


def source_phrases(source: str, language: str) -> list[str]:
    digest = digest_source(source, language)
    return [s.text for s in digest.sentences] + ([digest.heading] if digest.heading else [])


def is_whole_or_cut_at_a_word(title: str, source: str, language: str) -> bool:
    """A whole sentence, heading or leading phrase of the source, or the revisit title; or a
    prefix of one that stops at a word boundary, followed by an ellipsis."""
    phrases = source_phrases(source, language)
    if title == phrases_for(language)["revisit_title"]:
        return True
    if title.endswith("…"):
        head = title[:-1]
        for phrase in phrases:
            if phrase.startswith(head):
                following = phrase[len(head) : len(head) + 1]
                cjk = language in ("zh", "zh_yue", "ja")
                if following in (" ", ",", ";", ":", "，", "、", "；", "：") or (
                    cjk and not (head[-1:].isascii() and following.isascii())
                ):
                    return True
        return False
    return any(
        phrase.rstrip(".!?…。！？؟ ") == title
        or (
            phrase.startswith(title) and phrase[len(title) :].lstrip()[:1] in (";", ":", "；", "：")
        )
        for phrase in phrases
    )


@pytest.mark.parametrize(("language", "source", "style", "duration", "count"), EPISODES)
def test_every_sentence_is_complete_and_chapters_are_unique(
    language: str, source: str, style: int, duration: int, count: int
) -> None:
    result = written(language, source, style, duration, count)
    for turn in result["podcast_script"]:
        for sentence in sentences(turn["text"]):
            assert ends_a_sentence(sentence), (turn["text"], sentence)
            if language == "en":
                last_word = re.findall(r"[\w']+", sentence)[-1].casefold()
                assert last_word not in DANGLING, sentence
        assert "…" not in turn["text"] or "…" in source, turn["text"]
    titles = [h["highlight"] for h in result["hightlights"]]
    assert len({t.casefold() for t in titles}) == len(titles), titles
    for title in titles:
        assert 0 < len(title) <= 60, title
        assert is_whole_or_cut_at_a_word(title, source, language), title
    assert len(result["title"]) <= 60
    revisit = phrases_for(language)["revisit_title"]
    script = result["podcast_script"]
    for chapter in result["hightlights"]:
        if chapter["highlight"] == revisit:  # the recap chapter is a back-and-forth
            start, end = chapter["script_start_index"], chapter["script_end_index"]
            roles = [script[i]["role"] for i in range(max(0, start - 1), end + 1)]
            assert all(a != b for a, b in itertools.pairwise(roles)), roles


def test_the_old_fragments_are_gone() -> None:
    """The demo's sleep-debt episode used to say "Today's topic: Miss an hour ... and you."."""
    source = next(text for _language, text in spec_sources() if "Sleep debt" in text)
    for style in STYLE_NAMES:
        for duration in DURATION_BY_LEVEL:
            text = written("en", source, style, duration, 2)["podcast_script_txt"]
            assert "and you." not in text and "and you " not in text.replace("and you owe", "")


def test_chapter_titles_are_cut_at_word_boundaries_only() -> None:
    long = "Researchers advise planting more native flowers on rooftops and in parks for everyone"
    assert (
        chapter_title(long, "en") == "Researchers advise planting more native flowers on rooftops…"
    )
    assert len(chapter_title(long, "en")) <= 60
    assert chapter_title("The reason is simple: cities offer many flowers.", "en") == (
        "The reason is simple: cities offer many flowers"
    )
    very = "The reason is simple: " + "cities offer many flowers and fewer pesticides " * 2
    assert chapter_title(very, "en") == "The reason is simple"
    assert cut_at_word("x" * 80, "en").endswith("…") and len(cut_at_word("x" * 80, "en")) == 60
    chinese = SOURCES["zh"].split("。")[5]
    title = chapter_title(chinese * 2, "zh")
    assert len(title) <= 60 and title.endswith("…")
    mixed = "在 audiocleaner 上" * 8
    assert not re.search(r"[a-z]…$", cut_at_word(mixed, "zh").replace("audiocleaner…", ""))


def test_repeated_titles_are_told_apart() -> None:
    titles = unique_titles([["Tides"], ["Tides", "The moon"], ["Tides"], ["Tides"]], "en")
    assert titles == ["Tides", "The moon", "Tides (2)", "Tides (3)"]
    long = "word " * 30
    numbered = unique_titles([[long], [long]], "en")
    assert len(set(numbered)) == 2 and all(len(t) <= 60 for t in numbered)


def test_phrase_tables_are_data_files_shipped_in_the_package() -> None:
    assert PHRASES_DIR.parent.name == "sandbox" and PHRASES_DIR.is_relative_to(REPO / "acbatch")
    assert sorted(p.stem for p in PHRASES_DIR.glob("*.json")) == sorted(LANGUAGES)
    for language in LANGUAGES:
        table = json.loads((PHRASES_DIR / f"{language}.json").read_text(encoding="utf-8"))
        assert set(table) == set(PHRASE_KEYS), language
        for key, value in table.items():
            options = [value] if isinstance(value, str) else value
            assert options and all(isinstance(o, str) and o.strip() for o in options), key
            if key not in ("and", "styles", "default_title", "speaker", "revisit_title"):
                if key in ("summary", "recap", "revisit", "youtube_title"):
                    continue
                assert all(ends_a_sentence(o) for o in options), (language, key, options)
    ignored = (REPO / ".gitignore").read_text() if (REPO / ".gitignore").exists() else ""
    assert "phrases" not in ignored and "*.json" not in ignored
