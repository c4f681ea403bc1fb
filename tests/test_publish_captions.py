"""Caption cues: sentences, two lines of 42 characters, seven seconds, the speaker kept."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from acbatch.publish.model import TimedTurn
from acbatch.publish.transcripts import (
    CAPTION_LINE_CHARS,
    CAPTION_MAX_SECONDS,
    caption_cues,
    json_transcript,
    srt,
    webvtt,
)

LONG_TURN = TimedTurn(
    "Alice",
    "Welcome to the show, today we talk about samples and how they are made in the lab. "
    "Samples are small. They are real, and they are tested by people who care a great deal "
    "about every single detail of the process, from start to finish, without exception!",
    0.0,
    21.0,
)
JAPANESE_TURN = TimedTurn(
    "ゆい",
    "おちゃは、むかしから にほんの くらしに ちかい のみものです。"
    "みどりの おちゃの はっぱは、はるに つみます。はっぱを むして、もんで、かわかすと、"
    "せんちゃに なります。",
    21.0,
    35.0,
)
TIMESTAMP = re.compile(r"(\d\d):(\d\d):(\d\d)[.,](\d\d\d)")


def seconds(stamp: str) -> float:
    match = TIMESTAMP.fullmatch(stamp)
    assert match is not None, stamp
    hours, minutes, secs, millis = map(int, match.groups())
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def srt_blocks(text: str) -> list[tuple[float, float, list[str]]]:
    blocks = []
    for block in text.strip().split("\n\n"):
        _number, timing, *lines = block.split("\n")
        start, end = timing.split(" --> ")
        blocks.append((seconds(start), seconds(end), lines))
    return blocks


def assert_readable(turns: list[TimedTurn]) -> None:
    blocks = srt_blocks(srt(turns))
    for start, end, lines in blocks:
        assert 1 <= len(lines) <= 2, lines
        assert all(len(line) <= CAPTION_LINE_CHARS for line in lines), lines
        assert 0 <= end - start <= CAPTION_MAX_SECONDS + 0.001, (start, end, lines)
    starts = [start for start, _end, _lines in blocks]
    assert starts == sorted(starts)


def test_a_long_turn_becomes_sentence_cues_that_fit_the_screen() -> None:
    assert_readable([LONG_TURN])
    cues = caption_cues([LONG_TURN])
    assert len(cues) > 3
    assert {cue.speaker for cue in cues} == {"Alice"}
    texts = [" ".join(cue.lines) for cue in cues]
    assert "Samples are small." in texts  # a short sentence is a cue of its own here
    assert texts[-1].endswith("without exception!")
    assert " ".join(texts) == LONG_TURN.text
    assert cues[0].start == 0.0 and abs(cues[-1].end - 21.0) < 1e-6
    vtt = webvtt([LONG_TURN])
    assert "<v Alice>Samples are small.</v>" in vtt


def test_japanese_sentences_end_at_the_full_stop() -> None:
    assert_readable([JAPANESE_TURN])
    cues = caption_cues([JAPANESE_TURN])
    first = "おちゃは、むかしから にほんの くらしに ちかい のみものです。"
    assert " ".join(cues[0].lines) == first
    assert all(c.speaker == "ゆい" for c in cues)
    assert "".join("".join(c.lines) for c in cues).replace(" ", "") == JAPANESE_TURN.text.replace(
        " ", ""
    )


def test_a_slow_short_turn_is_shown_for_seven_seconds_at_most() -> None:
    (cue,) = caption_cues([TimedTurn("Bob", "Yes.", 35.0, 50.0)])
    assert (cue.start, cue.end, cue.lines) == (35.0, 42.0, ("Yes.",))


def test_the_json_transcript_keeps_whole_turns() -> None:
    document = json.loads(json_transcript([LONG_TURN, JAPANESE_TURN]))
    assert [s["body"] for s in document["segments"]] == [LONG_TURN.text, JAPANESE_TURN.text]
    assert [(s["startTime"], s["endTime"]) for s in document["segments"]] == [(0, 21), (21, 35)]


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=18)
sentences = st.lists(words, min_size=1, max_size=25).map(lambda w: " ".join(w) + ".")


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Al", "Bea", "Dr. Christopher Longname"]),
            st.lists(sentences, min_size=1, max_size=6),
            st.floats(min_value=0.5, max_value=90.0),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_dialogue_makes_readable_captions(
    dialogue: list[tuple[str, list[str], float]],
) -> None:
    turns = []
    start = 0.0
    for speaker, spoken, duration in dialogue:
        turns.append(TimedTurn(speaker, " ".join(spoken), start, start + duration))
        start += duration
    assert_readable(turns)
    cues = caption_cues(turns)
    for turn in turns:
        own = [c for c in cues if c.speaker == turn.speaker and turn.start <= c.start < turn.end]
        # Every character, in order (a word wider than a line may be cut between lines).
        shown = "".join("".join(c.lines) for c in own)
        assert shown.replace(" ", "") == turn.text.replace(" ", "")
