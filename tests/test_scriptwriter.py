"""The sandbox's offline script step: deterministic, style-shaped, on budget, in the language."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

import pytest

from acbatch.codes import DURATION_BY_LEVEL, LANGUAGES, STYLES
from acbatch.sandbox.catalog import sandbox_catalog
from acbatch.sandbox.scriptwriter import (
    count_units,
    digest_source,
    phrases_for,
    target_units,
    write_script,
)
from acbatch.voices import Voice

CATALOG = sandbox_catalog()
PHRASES = {language: phrases_for(language) for language in LANGUAGES}
AVA, LEO, NORA, SAM = (CATALOG.find(n) for n in ("ava", "leo", "nora", "sam"))

VOCABULARY_TEXT = (
    "river city garden council budget honey market school engine signal harbor forest "
    "museum library station bridge farmer teacher doctor planet ocean climate battery "
    "festival village tower window network program science history weather energy"
)
VOCABULARY = VOCABULARY_TEXT.split()
VERBS_TEXT = "builds changes improves protects measures explains shapes funds opens tests"
VERBS = VERBS_TEXT.split()


def english_source(sentences: int, seed: int = 7) -> str:
    """A long article of unique, sentence-shaped English text."""
    rng = random.Random(seed)
    lines = ["# Notes on the Modern City", ""]
    for number in range(sentences):
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(6, 16))]
        verb = rng.choice(VERBS)
        lines.append(f"The {words[0]} {verb} the {' '.join(words[1:])} in year {number}.")
        if number % 5 == 4:
            lines.append("")
    return "\n".join(lines)


def chinese_source(sentences: int, seed: int = 11) -> str:
    rng = random.Random(seed)
    characters = "城市花园蜜蜂研究人员政府农田街道公园食物供应关键帮助发展迅速屋顶伦敦东京"
    return "\n".join(
        "".join(rng.choice(characters) for _ in range(rng.randint(18, 36))) + "。"
        for _ in range(sentences)
    )


BEES = (
    "Urban beekeeping has grown rapidly over the past decade. City bees often produce more "
    "honey than rural bees. The reason is simple: cities offer many flowers and fewer "
    "pesticides. But too many hives can crowd out wild pollinators. Some councils now ask "
    "beekeepers to register their hives. Helping bees means helping all bees."
)


def script(
    source: str = BEES,
    *,
    style: int = 2,
    duration: int = 2,
    language: str = "en",
    speakers: list[Voice | None] | None = None,
) -> dict[str, Any]:
    return write_script(
        source,
        style=style,
        duration=duration,
        language=language,
        speakers=[AVA, LEO] if speakers is None else speakers,
        source_data="text://bees",
    )


def units_by_role(turns: list[dict[str, Any]], language: str = "en") -> Counter[str]:
    totals: Counter[str] = Counter()
    for turn in turns:
        totals[turn["role"]] += count_units(turn["text"], language)
    return totals


def body_turns(result: dict[str, Any]) -> list[dict[str, Any]]:
    first = result["hightlights"][0]["script_start_index"]
    last = result["hightlights"][-1]["script_end_index"]
    return result["podcast_script"][first : last + 1]


def test_result_has_exactly_the_step1_fields() -> None:
    result = script()
    assert set(result) == {
        "title",
        "processed_content",
        "train_data",
        "podcast_script",
        "hightlights",
        "podcast_script_txt",
        "source_data",
        "avatar",
    }
    assert isinstance(result["title"], str) and result["title"]
    assert isinstance(result["processed_content"], str) and result["processed_content"]
    assert isinstance(result["train_data"], str) and "Outline:" in result["train_data"]
    assert result["source_data"] == "text://bees"
    assert result["avatar"] is None
    for turn in result["podcast_script"]:
        assert set(turn) == {"role", "name", "avatar", "text", "voice_id"}
        assert turn["avatar"] == "" and turn["text"].strip()
    json.dumps(result)


def test_same_input_gives_identical_output() -> None:
    source = english_source(60)
    first = script(source, style=6, duration=3, speakers=[AVA, LEO, NORA])
    second = script(source, style=6, duration=3, speakers=[AVA, LEO, NORA])
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert script(source, style=2, duration=3, speakers=[AVA, LEO, NORA]) != first


def test_roles_names_and_voice_ids_come_from_the_speakers() -> None:
    result = script(speakers=[AVA, None])
    roles = {turn["role"]: turn for turn in result["podcast_script"]}
    assert set(roles) == {"A", "B"}
    assert (roles["A"]["name"], roles["A"]["voice_id"]) == ("Ava", "sandbox/ava")
    assert (roles["B"]["name"], roles["B"]["voice_id"]) == ("Speaker B", "")
    lines = result["podcast_script_txt"].split("\n")
    assert lines == [f"{t['name']}: {t['text']}" for t in result["podcast_script"]]


@pytest.mark.parametrize("style", sorted(STYLES.values()))
@pytest.mark.parametrize("speakers", [1, 2, 3])
def test_highlights_index_the_script_in_order(style: int, speakers: int) -> None:
    result = script(english_source(40), style=style, speakers=[AVA, LEO, NORA][:speakers])
    turns = result["podcast_script"]
    highlights = result["hightlights"]
    assert highlights
    previous_end = -1
    for number, item in enumerate(highlights):
        assert set(item) == {"highlight", "index", "script_start_index", "script_end_index"}
        assert item["index"] == number and item["highlight"].strip()
        assert previous_end < item["script_start_index"] <= item["script_end_index"] < len(turns)
        previous_end = item["script_end_index"]


@pytest.mark.parametrize("style", sorted(STYLES.values()))
def test_with_three_or_more_speakers_everybody_speaks(style: int) -> None:
    result = script(english_source(30), style=style, speakers=[AVA, LEO, NORA, SAM])
    assert {turn["role"] for turn in result["podcast_script"]} == {"A", "B", "C", "D"}


@pytest.mark.parametrize("style", sorted(STYLES.values()))
def test_one_speaker_gives_a_monologue(style: int) -> None:
    result = script(english_source(30), style=style, speakers=[NORA])
    assert {turn["name"] for turn in result["podcast_script"]} == {"Nora"}
    assert not any(PHRASES["en"]["greet"][0].split(",")[0] in t["text"] for t in body_turns(result))


@pytest.mark.parametrize(("level", "target"), [(2, 300), (3, 600), (4, 900), (7, 1875)])
def test_english_length_follows_the_duration_level(level: int, target: int) -> None:
    assert target_units(DURATION_BY_LEVEL[level], "en") == target
    result = script(english_source(700), style=2, duration=level)
    words = sum(count_units(t["text"], "en") for t in result["podcast_script"])
    assert 0.85 * target <= words <= 1.08 * target


def test_level_one_stays_under_a_minute_of_speech() -> None:
    assert target_units(DURATION_BY_LEVEL[1], "en") == 75
    result = script(english_source(700), style=2, duration=1)
    words = sum(count_units(t["text"], "en") for t in result["podcast_script"])
    assert 40 <= words <= 130
    assert len(result["hightlights"]) == 1


def test_level_two_is_about_three_hundred_words() -> None:
    result = script(english_source(300), duration=2)
    assert 250 <= count_units(result["podcast_script_txt"], "en") <= 340


def test_chinese_length_is_counted_in_characters() -> None:
    result = script(chinese_source(200), duration=2, language="zh", speakers=[None, None])
    characters = sum(count_units(t["text"], "zh") for t in result["podcast_script"])
    assert 480 <= characters <= 660


def test_a_short_source_is_revisited_towards_the_budget() -> None:
    result = script(BEES, duration=2)
    words = count_units("\n".join(t["text"] for t in result["podcast_script"]), "en")
    assert words > 2 * count_units(BEES, "en")
    assert words <= 1.1 * 300


def test_source_sentences_are_deduplicated_and_used_verbatim() -> None:
    source = english_source(20)
    doubled = source + "\n\n" + source
    assert len(digest_source(doubled, "en").sentences) == len(digest_source(source, "en").sentences)
    result = script(doubled, duration=3)
    text = "\n".join(t["text"] for t in result["podcast_script"])
    sentences = digest_source(source, "en").sentences
    used = [s for s in sentences if s.text in text]
    assert len(used) >= 0.8 * len(sentences)
    assert result["title"] == "Notes on the Modern City"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_connective_phrases_are_in_the_requested_language(language: str) -> None:
    result = script(BEES, style=2, language=language, speakers=[AVA, LEO])
    text = result["podcast_script_txt"]
    table = PHRASES[language]
    assert table["styles"][1] in text
    assert any(greeting.split("{")[0] in text for greeting in table["greet"])
    last_lead_turn = [t for t in result["podcast_script"] if t["role"] == "A"][-1]["text"]
    assert any(outro in last_lead_turn for outro in table["outro"])
    if language != "en":
        assert "Welcome" not in text and "Thanks for listening" not in text


def test_every_language_table_has_every_phrase() -> None:
    keys = set(PHRASES["en"])
    for language in LANGUAGES:
        table = PHRASES[language]
        assert set(table) == keys, language
        assert len(table["styles"]) == len(STYLES)
        for key, value in table.items():
            options = (value,) if isinstance(value, str) else value
            assert options and all(option.strip() for option in options), (language, key)


def test_japanese_phrases_avoid_kanji() -> None:
    kanji = re.compile(r"[\u4e00-\u9fff]")
    for key, value in PHRASES["ja"].items():
        options = (value,) if isinstance(value, str) else value
        assert not any(kanji.search(option) for option in options), key


def test_interview_host_asks_and_guest_answers() -> None:
    result = script(english_source(40), style=2, speakers=[AVA, LEO])
    host_turns = [t["text"] for t in body_turns(result) if t["role"] == "A"]
    assert host_turns and all(text.rstrip().endswith("?") for text in host_turns)
    units = units_by_role(body_turns(result))
    assert units["B"] > 2 * units["A"]


def test_educational_learner_asks_and_teacher_explains() -> None:
    result = script(english_source(40), style=1, speakers=[AVA, LEO])
    learner_turns = [t["text"] for t in body_turns(result) if t["role"] == "B"]
    assert learner_turns and all("?" in text for text in learner_turns)
    units = units_by_role(body_turns(result))
    assert units["A"] > 2 * units["B"]


def test_storytelling_narrator_carries_the_story() -> None:
    result = script(english_source(40), style=4, speakers=[AVA, LEO])
    units = units_by_role(result["podcast_script"])
    assert units["A"] > 0.85 * sum(units.values())
    assert any(p in result["podcast_script_txt"] for p in PHRASES["en"]["story"])


def test_news_correspondents_hand_back_to_the_anchor() -> None:
    result = script(english_source(40), style=5, speakers=[AVA, LEO, NORA])
    reports = [t["text"] for t in body_turns(result) if t["role"] != "A"]
    assert reports and all(text.endswith("Back to you, Ava.") for text in reports)


def test_roast_teases_the_presenter_by_name() -> None:
    result = script(english_source(40), style=9, speakers=[AVA, LEO])
    jabs = [t["text"] for t in body_turns(result) if t["role"] == "B"]
    assert jabs and all("Ava" in text for text in jabs)


def test_talk_show_banter_has_more_exchanges_than_an_interview() -> None:
    source = english_source(40)
    talk = script(source, style=6, speakers=[AVA, LEO])
    interview = script(source, style=2, speakers=[AVA, LEO])
    assert len(talk["podcast_script"]) > len(interview["podcast_script"])
    units = units_by_role(body_turns(talk))
    assert min(units.values()) > 0.3 * sum(units.values())


@pytest.mark.parametrize("source", ["", "   \n\n ", "Bees.", "!!!"])
def test_empty_or_tiny_sources_still_give_a_valid_script(source: str) -> None:
    result = script(source, style=3, duration=2)
    turns = result["podcast_script"]
    assert len(turns) >= 2 and all(t["text"].strip() for t in turns)
    assert result["title"]
    for item in result["hightlights"]:
        assert 0 <= item["script_start_index"] <= item["script_end_index"] < len(turns)


def test_unknown_style_or_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="style"):
        script(style=10)
    with pytest.raises(ValueError, match="duration"):
        script(duration=0)
