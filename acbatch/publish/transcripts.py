"""Transcripts (WebVTT, SRT, Podcasting 2.0 JSON) and Podcasting 2.0 JSON chapters."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

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

_BLANK_LINES = re.compile(r"\n\s*\n+")


def _cue_lines(text: str) -> str:
    """Cue text without blank lines (a blank line would end the cue)."""
    return _BLANK_LINES.sub("\n", clean(text))


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _spoken(turns: Sequence[TimedTurn]) -> list[TimedTurn]:
    return [turn for turn in turns if clean(turn.text)]


def webvtt(turns: Sequence[TimedTurn]) -> str:
    blocks = ["WEBVTT\n"]
    for number, turn in enumerate(_spoken(turns), start=1):
        voice = _vtt_escape(one_line(turn.speaker))
        blocks.append(
            f"{number}\n{cue_time(turn.start)} --> {cue_time(turn.end)}\n"
            f"<v {voice}>{_vtt_escape(_cue_lines(turn.text))}</v>\n"
        )
    return "\n".join(blocks)


def srt(turns: Sequence[TimedTurn]) -> str:
    blocks = []
    for number, turn in enumerate(_spoken(turns), start=1):
        blocks.append(
            f"{number}\n{cue_time(turn.start, ',')} --> {cue_time(turn.end, ',')}\n"
            f"{one_line(turn.speaker)}: {_cue_lines(turn.text)}\n"
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
