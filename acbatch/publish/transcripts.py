"""Transcripts (WebVTT, SRT, Podcasting 2.0 JSON) and Podcasting 2.0 JSON chapters.

Captions (WebVTT, SRT) are cut to be read while listening: each cue is one speaker's words, at
most two lines of 42 characters (the speaker's label included) on screen for at most 7
seconds, cut at sentence ends where possible, then at clause ends, then between words. A turn's
time is shared among its cues by their length. The JSON transcript keeps whole turns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from acbatch.publish.model import Chapter, TimedTurn
from acbatch.publish.text import clean, cue_time, one_line

TRANSCRIPT_FORMATS: dict[str, str] = {
    "transcript.vtt": "text/vtt",
    "transcript.srt": "application/x-subrip",
    "transcript.json": "application/json",
}
CHAPTERS_FILE = "chapters.json"
CHAPTERS_TYPE = "application/json+chapters"
JSON_TRANSCRIPT_VERSION = "1.0.0"
JSON_CHAPTERS_VERSION = "1.2.0"

CAPTION_LINE_CHARS = 42
CAPTION_MAX_SECONDS = 7.0

# A sentence ends with . ! ? or an ellipsis before a space, or with CJK full stops anywhere.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[、，；：])\s*")


class Cue(NamedTuple):
    speaker: str
    start: float
    end: float
    lines: tuple[str, ...]


def caption_cues(turns: Sequence[TimedTurn]) -> list[Cue]:
    """The turns cut into caption cues (see the module docstring)."""
    cues: list[Cue] = []
    for turn in _spoken(turns):
        speaker = one_line(turn.speaker)
        label = len(speaker) + 2  # "Speaker: " before the first line in SRT
        text = " ".join(clean(turn.text).split())
        duration = max(0.0, turn.end - turn.start)
        # Characters a cue may hold to stay on screen at most CAPTION_MAX_SECONDS.
        per_second = len(text) / duration if duration > 0 else float("inf")
        time_budget = max(1, int(per_second * CAPTION_MAX_SECONDS))
        pieces = _cue_texts(text, label, time_budget)
        total = sum(len(piece) + 1 for piece in pieces)
        start = turn.start
        for piece in pieces:
            share = duration * (len(piece) + 1) / total if total else 0.0
            end = start + share
            shown_until = min(end, start + CAPTION_MAX_SECONDS)
            lines = _wrap(piece, label) or (piece,)
            cues.append(Cue(speaker, start, shown_until, lines))
            start = end
    return cues


def _cue_texts(text: str, label: int, time_budget: int) -> list[str]:
    """`text` in pieces that each fit a cue (see _pieces)."""

    def fits(candidate: str) -> bool:
        if _wrap(candidate, label) is None:
            return False
        # A single word (of a spaced script) is never cut for time: it is shown for at most
        # CAPTION_MAX_SECONDS instead.
        return len(candidate) <= time_budget or not (" " in candidate or _has_cjk(candidate))

    return _pieces(text, fits, 0)


_SPLITTERS: tuple[Callable[[str], list[str]], ...] = (
    lambda text: [p for p in _SENTENCE_END.split(text) if p],
    lambda text: [p for p in _CLAUSE_END.split(text) if p],
    lambda text: [p for p in text.split(" ") if p],
    list,  # characters: scripts without spaces, or a word longer than a line
)


def _pieces(text: str, fits: Callable[[str], bool], level: int) -> list[str]:
    """Sentences joined while they fit a cue; a sentence that does not fit is cut in clauses
    (joined while they fit), a clause in words, a word in characters."""
    if fits(text) or level == len(_SPLITTERS):
        return [text]
    parts = _SPLITTERS[level](text)
    if len(parts) <= 1:
        return _pieces(text, fits, level + 1)
    pieces: list[str] = []
    current = ""
    for part in parts:
        if not fits(part):
            if current:
                pieces.append(current)
                current = ""
            pieces += _pieces(part, fits, level + 1)
            continue
        candidate = _join(current, part) if current else part
        if current and not fits(candidate):
            pieces.append(current)
            current = part
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _join(before: str, after: str) -> str:
    """Pieces are joined with a space unless both sides are CJK (written without spaces)."""
    if _is_cjk(before[-1]) and _is_cjk(after[0]):
        return before + after
    return f"{before} {after}"


def _has_cjk(text: str) -> bool:
    return any(_is_cjk(c) for c in text)


def _is_cjk(character: str) -> bool:
    return "\u3000" <= character <= "\u9fff" or "\uff00" <= character <= "\uffef"


def _wrap(text: str, label: int) -> tuple[str, ...] | None:
    """`text` on at most two lines of CAPTION_LINE_CHARS (the first also holding the speaker
    label of `label` characters), as even as possible; None when it does not fit."""
    first_width = max(10, CAPTION_LINE_CHARS - label)
    if len(text) <= first_width:
        return (text,)
    if len(text) > first_width + CAPTION_LINE_CHARS:
        return None
    best: tuple[int, int] | None = None  # (longer line, break index)
    spaces = [i for i, c in enumerate(text) if c == " "]
    breaks = spaces or range(1, len(text))
    for index in breaks:
        head = text[:index].rstrip()
        tail = text[index:].lstrip()
        if len(head) <= first_width and len(tail) <= CAPTION_LINE_CHARS and head and tail:
            longer = max(len(head), len(tail))
            if best is None or longer < best[0]:
                best = (longer, index)
    if best is None:
        return None
    index = best[1]
    return (text[:index].rstrip(), text[index:].lstrip())


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _spoken(turns: Sequence[TimedTurn]) -> list[TimedTurn]:
    return [turn for turn in turns if clean(turn.text)]


def webvtt(turns: Sequence[TimedTurn]) -> str:
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(caption_cues(turns), start=1):
        voice = _vtt_escape(cue.speaker)
        text = "\n".join(_vtt_escape(line) for line in cue.lines)
        blocks.append(
            f"{number}\n{cue_time(cue.start)} --> {cue_time(cue.end)}\n<v {voice}>{text}</v>\n"
        )
    return "\n".join(blocks)


def srt(turns: Sequence[TimedTurn]) -> str:
    blocks = []
    for number, cue in enumerate(caption_cues(turns), start=1):
        text = "\n".join(cue.lines)
        blocks.append(
            f"{number}\n{cue_time(cue.start, ',')} --> {cue_time(cue.end, ',')}\n"
            f"{cue.speaker}: {text}\n"
        )
    return "\n".join(blocks)


def json_transcript(turns: Sequence[TimedTurn]) -> str:
    segments = [
        {
            "speaker": one_line(turn.speaker),
            "startTime": turn.start,
            "endTime": turn.end,
            "body": clean(turn.text),
        }
        for turn in _spoken(turns)
    ]
    document = {"version": JSON_TRANSCRIPT_VERSION, "segments": segments}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def json_chapters(chapters: Sequence[Chapter]) -> str:
    document = {
        "version": JSON_CHAPTERS_VERSION,
        "chapters": [
            {"startTime": chapter.start, "endTime": chapter.end, "title": chapter.title}
            for chapter in chapters
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
