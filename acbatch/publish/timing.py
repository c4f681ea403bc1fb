"""Placing turns and chapters on the audio's timeline.

Turns carry real offsets when the audio step reported them; the rest are apportioned by text
length within the gaps the known offsets leave, so a transcript always covers the measured audio.
"""

from __future__ import annotations

from collections.abc import Sequence

from acbatch.publish.model import Chapter, Highlight, Soundbite, TimedTurn, Turn
from acbatch.publish.text import clean, one_line


def _weight(turn: Turn) -> int:
    return max(1, len(turn.text.strip()))


def _known(value: float | None, duration: float) -> float | None:
    if value is None or value != value or value < 0:  # None, NaN or negative: unknown
        return None
    return min(float(value), duration)


def timed_turns(turns: Sequence[Turn], duration: float, offset: float = 0.0) -> list[TimedTurn]:
    """Every turn with a start and end inside [0, duration], in order and never overlapping,
    then moved `offset` seconds later (where the speech starts in the published file, after an
    intro jingle; `duration` is then the speech's length).

    Each turn contributes two events (start, end). Known events are anchors (made monotonic);
    unknown ones are interpolated between the surrounding anchors by cumulative text length,
    with the audio's start (0) and end (duration) as the outermost anchors.
    """
    duration = max(0.0, float(duration))
    values: list[float | None] = []
    positions: list[float] = []
    cumulative = 0.0
    for turn in turns:
        values.append(_known(turn.start, duration))
        positions.append(cumulative)
        cumulative += _weight(turn)
        values.append(_known(turn.end, duration))
        positions.append(cumulative)

    floor = 0.0
    for i, value in enumerate(values):
        if value is not None:
            floor = max(floor, value)
            values[i] = floor

    count = len(values)
    previous: list[tuple[float, float]] = []
    anchor = (0.0, 0.0)
    for i in range(count):
        previous.append(anchor)
        value = values[i]
        if value is not None:
            anchor = (positions[i], value)
    following: list[tuple[float, float]] = [(0.0, 0.0)] * count
    anchor = (cumulative, duration)
    for i in range(count - 1, -1, -1):
        following[i] = anchor
        value = values[i]
        if value is not None:
            anchor = (positions[i], value)

    resolved: list[float] = []
    for i, value in enumerate(values):
        if value is not None:
            resolved.append(value)
            continue
        (low_pos, low_val), (high_pos, high_val) = previous[i], following[i]
        high_val = max(low_val, high_val)
        if high_pos <= low_pos:
            resolved.append(low_val)
        else:
            share = (positions[i] - low_pos) / (high_pos - low_pos)
            resolved.append(low_val + (high_val - low_val) * share)

    return [
        TimedTurn(
            speaker=one_line(turn.name) or one_line(turn.role) or "Speaker",
            text=clean(turn.text),
            start=round(offset + resolved[2 * i], 3),
            end=round(offset + max(resolved[2 * i], resolved[2 * i + 1]), 3),
        )
        for i, turn in enumerate(turns)
    ]


def chapters(
    highlights: Sequence[Highlight],
    turns: Sequence[TimedTurn],
    duration: float,
    offset: float = 0.0,
) -> list[Chapter]:
    """One chapter per highlight, ordered by start; the first starts at `offset` (where the
    speech starts: 0 without an intro jingle), each ends at the next, the last at `duration`.

    Highlights' reported start times count from the speech's start; `turns` are already placed
    on the published timeline.
    """
    duration = max(0.0, float(duration))
    offset = min(max(0.0, float(offset)), duration)
    starts: list[tuple[float, int, str]] = []
    for order, highlight in enumerate(highlights):
        title = one_line(highlight.title)
        if not title:
            continue
        known = _known(highlight.start_time, duration - offset)
        start = None if known is None else offset + known
        if start is None:
            start = max(offset, _turn_start(turns, highlight.script_start_index))
        starts.append((start, order, title))
    starts.sort()
    result: list[Chapter] = []
    for position, (start, _order, title) in enumerate(starts):
        begin = offset if position == 0 else start
        end = starts[position + 1][0] if position + 1 < len(starts) else duration
        result.append(Chapter(title=title, start=round(begin, 3), end=round(max(begin, end), 3)))
    return result


MAX_SOUNDBITE_SECONDS = 120.0
"""Podcasting 2.0 recommends soundbites of 15 to 120 seconds: a longer highlight is cut."""


def soundbites(
    highlights: Sequence[Highlight], turns: Sequence[TimedTurn], duration: float
) -> list[Soundbite]:
    """One soundbite per highlight: from its first turn's start to its last turn's end."""
    duration = max(0.0, float(duration))
    found: list[Soundbite] = []
    for highlight in highlights:
        if not turns:
            break
        start = _known(highlight.start_time, duration)
        if start is None:
            start = _turn_start(turns, highlight.script_start_index)
        last = turns[min(max(highlight.script_end_index, 0), len(turns) - 1)]
        length = min(max(last.end, start) - start, MAX_SOUNDBITE_SECONDS, duration - start)
        if length > 0:
            found.append(Soundbite(one_line(highlight.title), round(start, 3), round(length, 3)))
    return sorted(found, key=lambda bite: bite.start)


def _turn_start(turns: Sequence[TimedTurn], index: int) -> float:
    if not turns:
        return 0.0
    return turns[min(max(index, 0), len(turns) - 1)].start
