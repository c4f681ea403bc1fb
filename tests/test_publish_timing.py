"""Turn timings (measured or apportioned) and chapters laid out from highlights."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acbatch.publish.model import Highlight, Turn
from acbatch.publish.timing import chapters, timed_turns


def test_unknown_offsets_are_apportioned_by_text_length() -> None:
    turns = [Turn("A", "Ann", "x" * 10), Turn("B", "Ben", "y" * 30), Turn("A", "", "z" * 20)]
    timed = timed_turns(turns, 60.0)
    assert [(t.start, t.end) for t in timed] == [(0.0, 10.0), (10.0, 40.0), (40.0, 60.0)]
    assert [t.speaker for t in timed] == ["Ann", "Ben", "A"]


def test_known_offsets_are_kept_and_gaps_filled() -> None:
    turns = [
        Turn("A", "Ann", "aaaa"),
        Turn("B", "Ben", "bb", start=5.0),
        Turn("A", "Ann", "cccccccc"),
        Turn("B", "Ben", "dd", end=20.0),
        Turn("A", "Ann", "e", start=25.0, end=27.0),
    ]
    timed = timed_turns(turns, 30.0)
    assert (timed[0].start, timed[0].end) == (0.0, 5.0)
    assert timed[1].start == 5.0
    assert timed[3].end == 20.0
    assert (timed[4].start, timed[4].end) == (25.0, 27.0)
    # Between 5 s and 20 s the three turns share time by length (2 : 8 : 2 characters).
    assert timed[1].end == pytest.approx(7.5)
    assert timed[2].end == pytest.approx(17.5)


def test_chapters_start_at_zero_and_follow_turns() -> None:
    turns = timed_turns([Turn("A", "a", "x" * 10) for _ in range(4)], 40.0)
    laid_out = chapters(
        [
            Highlight("Third", 3, 3),
            Highlight("", 0, 0),
            Highlight("Second", 1, 2),
            Highlight("First", 0, 0),
            Highlight("Reported", 99, 99, start_time=35.0),
        ],
        turns,
        40.0,
    )
    assert [(c.title, c.start, c.end) for c in laid_out] == [
        ("First", 0.0, 10.0),
        ("Second", 10.0, 30.0),
        ("Third", 30.0, 35.0),
        ("Reported", 35.0, 40.0),
    ]


def test_first_chapter_is_moved_to_zero_and_bad_indexes_clamp() -> None:
    turns = timed_turns([Turn("A", "a", "x"), Turn("B", "b", "y")], 10.0)
    laid_out = chapters([Highlight("Late", 1, 1), Highlight("Beyond", 7, 9)], turns, 10.0)
    assert [(c.title, c.start) for c in laid_out] == [("Late", 0.0), ("Beyond", 5.0)]
    assert chapters([Highlight("Only", 0, 0)], [], 10.0)[0].end == 10.0


offsets = st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=-5, max_value=200))


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(st.tuples(st.text(max_size=30), offsets, offsets), max_size=12),
    duration=st.floats(min_value=0, max_value=150),
)
def test_timings_are_ordered_and_inside_the_audio(
    raw: list[tuple[str, float | None, float | None]], duration: float
) -> None:
    turns = [Turn("A", "n", text, start, end) for text, start, end in raw]
    timed = timed_turns(turns, duration)
    assert len(timed) == len(turns)
    previous_end = 0.0
    for turn in timed:
        assert 0.0 <= turn.start <= turn.end <= round(duration, 3) + 1e-9
        assert turn.start >= previous_end - 1e-9
        previous_end = turn.end
    for turn, original in zip(timed, turns, strict=True):
        if original.start is not None and 0 <= original.start <= duration:
            # A known start is kept unless an earlier known offset forces it later.
            assert turn.start >= round(original.start, 3) - 1e-9
