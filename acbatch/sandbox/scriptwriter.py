"""The sandbox's offline script step: a deterministic podcast script built from the source itself.

The source is split into sentences, deduplicated and ranked; the best ones (back in source order)
become the body of a dialogue shaped by the requested style, joined by connective phrases in the
requested language, until the duration level's length budget is met. Same input, same script.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from acbatch.codes import DURATION_BY_LEVEL, LANGUAGES, STYLE_NAMES, DurationLevel
from acbatch.voices import Voice

# --------------------------------------------------------------------------------------------
# Phrase tables: acbatch/sandbox/phrases/<language>.json, one per API language (shipped in the
# package). Templates use {name}, {names}, {title}, {topic}, {style}, {video} and {host}; a key
# holds one string or a list the writer rotates through. Japanese stays in kana because the
# offline speech engine cannot read kanji.

PHRASES_DIR = Path(__file__).parent / "phrases"
PHRASE_KEYS = (
    "styles",
    "welcome",
    "welcome_plain",
    "introduce",
    "and",
    "greet",
    "topic",
    "topic_plain",
    "ask",
    "followup",
    "reaction",
    "curious",
    "excited",
    "funny",
    "tease",
    "reflect",
    "headline",
    "headline_plain",
    "handoff",
    "back",
    "story",
    "transition",
    "lead_in",
    "revisit",
    "revisit_title",
    "recap",
    "outro",
    "farewell",
    "summary",
    "default_title",
    "speaker",
    "youtube_title",
    "youtube",
)
"""Every key each language's table must have (a test checks the files)."""


@cache
def phrases_for(language: str) -> dict[str, Any]:
    """The phrase table of an API language; unknown languages get English."""
    path = PHRASES_DIR / f"{language}.json"
    if language not in LANGUAGES or not path.is_file():
        path = PHRASES_DIR / "en.json"
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


# --------------------------------------------------------------------------------------------
# YouTube sources.

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
YOUTUBE_NOTE = (
    "Offline stand-in: the acbatch sandbox cannot watch or transcribe videos, so this script "
    "is written from the link alone. The real service writes it from the video."
)


def youtube_video_id(url: str) -> str:
    """The video id of a YouTube link (watch?v=, youtu.be/, /shorts/, /embed/, /live/)."""
    parts = urlsplit(url)
    candidates = parse_qs(parts.query).get("v", [])
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] in ("shorts", "embed", "live", "v") and len(segments) > 1:
        candidates.append(segments[1])
    elif segments:
        candidates.append(segments[-1])
    return next((c for c in candidates if _VIDEO_ID.match(c)), "")


def youtube_stand_in(url: str, language: str) -> str:
    """The source text the sandbox writes a YouTube episode from: a heading that marks it as a
    stand-in and a paragraph saying why, in the episode's language. Same link, same text."""
    phrases = phrases_for(language)
    video = youtube_video_id(url) or "?"
    host = (urlsplit(url).hostname or "YouTube").removeprefix("www.")
    title = str(phrases["youtube_title"]).format(video=video)
    body = str(phrases["youtube"]).format(video=video, host=host)
    return f"# {title}\n\n{body}"


# --------------------------------------------------------------------------------------------
# Length budget.

WORDS_PER_MINUTE = 150
CJK_CHARS_PER_MINUTE = 300
CJK_LANGUAGES = frozenset({"zh", "zh_yue", "ja"})


def units_per_minute(language: str) -> int:
    """Speech units per minute: characters for Chinese and Japanese, words otherwise."""
    return CJK_CHARS_PER_MINUTE if language in CJK_LANGUAGES else WORDS_PER_MINUTE


def target_units(level: DurationLevel, language: str) -> int:
    """The middle of the duration level's range, in speech units."""
    minutes = (level.min_minutes + level.max_minutes) / 2
    return max(1, round(minutes * units_per_minute(language)))


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_CJK_OR_SPACE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\s]+"
)
_WORD = re.compile(r"\w+")


def count_units(text: str, language: str) -> int:
    """Length of text as speech: CJK characters (in zh/zh_yue/ja) plus words."""
    if language in CJK_LANGUAGES:
        cjk = len(_CJK_CHAR.findall(text))
        rest = _CJK_OR_SPACE.sub(" ", text)
        return cjk + len(_WORD.findall(rest))
    return len(_WORD.findall(text))


# --------------------------------------------------------------------------------------------
# Reading the source.

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…؟])[\"'”’)\]]*\s+|(?<=[。！？；])")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:，；：、])\s*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)])\s+")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s*|\s*#+\s*$")
_TERMINAL = re.compile(r"[.!?…。！？:;：；؟]$")
_LETTER = re.compile(r"[^\W\d_]")
_TRAILING_PUNCTUATION = re.compile(r"[\s,.;:!?…。，、；：！？\"'“”‘’()\[\]«»「」『』-]+$")
_STOPWORDS_TEXT = (
    "that this with from have were been they their there which would could should about "
    "into than then them these those what when where while your more most some such only "
    "also very just over after before because being does doing other each many much will "
    "shall"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_DANGLING_WORDS_TEXT = (
    "a an the of to and or but that so in on at by for with as is are was were be its "
    "their his her our your which who whose than from into"
)
_DANGLING_WORDS = frozenset(_DANGLING_WORDS_TEXT.split())
"""Words a shortened English phrase should not end on."""

_QUESTIONS = frozenset({"followup", "curious"})

_NOT_ALNUM = re.compile(r"[\W_]+")

MAX_SOURCE_CHARS = 1_000_000
"""Only this much of a source is read: far more than the longest episode can use."""
MIN_SENTENCE_UNITS = 3
MAX_SENTENCE_UNITS = 45
MAX_SEGMENTS = 12


@dataclass(frozen=True)
class Sentence:
    text: str
    position: int
    units: int
    score: float = 0.0


@dataclass(frozen=True)
class SourceDigest:
    heading: str | None
    sentences: tuple[Sentence, ...]


_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text[:MAX_SOURCE_CHARS])
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _join_lines(lines: list[str]) -> str:
    joined = ""
    for line in lines:
        if joined and not (_CJK_CHAR.match(line[:1]) and _CJK_CHAR.match(joined[-1:])):
            joined += " "
        joined += line
    return joined


def _max_units(language: str) -> int:
    return MAX_SENTENCE_UNITS * 2 if language in CJK_LANGUAGES else MAX_SENTENCE_UNITS


def _min_units(language: str) -> int:
    return MIN_SENTENCE_UNITS * 2 if language in CJK_LANGUAGES else MIN_SENTENCE_UNITS


def _is_heading(line: str, language: str) -> bool:
    units = count_units(line, language)
    limit = 24 if language in CJK_LANGUAGES else 12
    return 0 < units <= limit and not _TERMINAL.search(line) and bool(_LETTER.search(line))


def _split_long(text: str, language: str) -> list[str]:
    """Very long sentences are cut at clause breaks, then hard-wrapped."""
    limit = _max_units(language)
    if count_units(text, language) <= limit:
        return [text]
    glue = "" if _no_space(language) else " "
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(text):
        candidate = f"{current}{glue}{clause}" if current else clause
        if current and count_units(candidate, language) > limit:
            pieces.append(current)
            current = clause
        else:
            current = candidate
    if current:
        pieces.append(current)
    wrapped: list[str] = []
    for piece in pieces:
        if count_units(piece, language) <= limit * 1.5:
            wrapped.append(piece)
            continue
        words = piece.split()
        if len(words) > 1:
            wrapped.extend(
                " ".join(words[start : start + limit]) for start in range(0, len(words), limit)
            )
        else:
            wrapped.extend(piece[i : i + limit] for i in range(0, len(piece), limit))
    return wrapped


def _tokens(text: str, language: str) -> list[str]:
    tokens = [
        w.casefold()
        for w in re.findall(r"[^\W\d_]{4,}", text)
        if not _CJK_CHAR.match(w[0]) and w.casefold() not in _STOPWORDS
    ]
    for run in re.findall(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+", text):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


def digest_source(text: str, language: str) -> SourceDigest:
    """Split a source into its heading and unique, scored sentences (in source order)."""
    heading: str | None = None
    raw: list[str] = []
    for paragraph in re.split(r"\n\s*\n", _normalise(text)):
        lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
        body: list[str] = []
        for line in lines:
            bare = _LIST_MARKER.sub("", _HEADING_MARKS.sub("", line)).strip()
            if not bare:
                continue
            if _is_heading(bare, language) and (line.lstrip().startswith("#") or len(lines) == 1):
                if heading is None:
                    heading = bare
                continue
            if _LIST_MARKER.match(line) and body:
                raw.extend(_split_sentences(_join_lines(body)))
                body = []
            body.append(bare)
        if body:
            raw.extend(_split_sentences(_join_lines(body)))
    seen: set[str] = set()
    kept: list[str] = []
    for candidate in raw:
        for piece in _split_long(re.sub(r"\s+", " ", candidate).strip(), language):
            key = _NOT_ALNUM.sub("", piece.casefold())
            if not key or key in seen or count_units(piece, language) < _min_units(language):
                continue
            seen.add(key)
            kept.append(finish_sentence(piece, language))
    if not kept and _LETTER.search(text):
        # Too short to hold a sentence: the whole source becomes the one thing to talk about.
        stop = "。" if _no_space(language) else "."
        kept = [shorten(_normalise(text), language, _max_units(language)) + stop]
    token_sets = [set(_tokens(sentence, language)) for sentence in kept]
    frequencies = Counter(t for tokens in token_sets for t in tokens)
    total = max(1, len(kept))
    sentences = []
    for position, (sentence, tokens) in enumerate(zip(kept, token_sets, strict=True)):
        weight = sum(math.log1p(frequencies[t] - 1) for t in tokens) / math.sqrt(1 + len(tokens))
        early = 1.0 + 0.6 * (1.0 - position / total)
        sentences.append(
            Sentence(sentence, position, count_units(sentence, language), (0.1 + weight) * early)
        )
    return SourceDigest(heading, tuple(sentences))


def _split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(paragraph) if s and s.strip()]


def shorten(text: str, language: str, limit: int) -> str:
    """`text` cut to about `limit` units, at a clause break if it can; no end punctuation."""
    text = text.strip()
    if count_units(text, language) > limit:
        kept = ""
        for clause in _CLAUSE_BREAK.split(text):
            candidate = f"{kept}{clause}" if _no_space(language) else f"{kept} {clause}".strip()
            if count_units(candidate, language) > limit:
                break
            kept = candidate
        if count_units(kept, language) >= limit // 2:
            text = kept
        elif _no_space(language):
            text = _cut_cjk(text, limit, language)
        else:
            words = text.split()[:limit]
            while len(words) > 1 and words[-1].casefold().strip(",;:") in _DANGLING_WORDS:
                words.pop()
            text = " ".join(words)
    return _TRAILING_PUNCTUATION.sub("", text).strip()


def _cut_cjk(text: str, limit: int, language: str) -> str:
    end = 0
    while end < len(text) and count_units(text[: end + 1], language) <= limit:
        end += 1
    return text[:end]


def _no_space(language: str) -> bool:
    """Languages written without spaces between words or sentences."""
    return language in CJK_LANGUAGES


TERMINAL_PUNCTUATION = ".!?…。！？؟"
"""A sentence the sandbox writes ends with one of these (before any closing quote)."""
_CLOSING = "\"'”’)]»」』"
_LOOSE_END = re.compile(r"[\s,;:，；：、\-–—]+$")
MAX_CHAPTER_CHARS = 60
ELLIPSIS = "…"


def finish_sentence(text: str, language: str) -> str:
    """`text` ending as a sentence: a trailing clause mark or none becomes a full stop."""
    text = text.strip()
    if text.rstrip(_CLOSING)[-1:] in tuple(TERMINAL_PUNCTUATION):
        return text
    return _LOOSE_END.sub("", text) + ("。" if _no_space(language) else ".")


_PAIRS = (("(", ")"), ("（", "）"), ("[", "]"), ("«", "»"), ("「", "」"), ("“", "”"))


def _bare(text: str) -> str:
    """Text without end punctuation, keeping a closing bracket or quote that has its opener."""
    text = " ".join(text.split())
    bare = _TRAILING_PUNCTUATION.sub("", text)
    for opener, closer in _PAIRS:
        if bare.count(opener) > bare.count(closer) and text[len(bare) :].startswith(closer):
            bare += closer
    return bare


_PHRASE_BREAK = re.compile(r"(?<=[;:；：])\s*")
"""Where a sentence's leading part is still a whole phrase ('The reason is simple: ...');
a comma often ends only a subordinate clause, so it does not count."""


def _leading_clause(text: str) -> str:
    """The part of a sentence before its first ';' or ':' (the whole sentence if none)."""
    return _bare(_PHRASE_BREAK.split(text.strip(), maxsplit=1)[0])


def whole_phrase(text: str, language: str, limit: int) -> str | None:
    """A whole sentence, or its leading clause, of at most `limit` units and 60 characters,
    without end punctuation; None when neither is short enough (never a cut fragment)."""
    for phrase in (_bare(text), _leading_clause(text)):
        units = count_units(phrase, language)
        if _min_units(language) <= units <= limit and len(phrase) <= MAX_CHAPTER_CHARS:
            return phrase
    return None


def cut_at_word(text: str, language: str, limit: int = MAX_CHAPTER_CHARS) -> str:
    """`text` in at most `limit` characters: whole, else cut at a word boundary plus '…'."""
    if text.endswith(ELLIPSIS) and len(text.strip()) <= limit:
        return text.strip()  # cut already
    text = _bare(text)
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    if " " in text[: room + 1]:
        words = text[: room + 1].split(" ")[:-1]  # the last piece may be a cut word
        while len(words) > 1 and words[-1].casefold().strip(",;:") in _DANGLING_WORDS:
            words.pop()
        head = " ".join(words)
    else:
        head = text[:room]
        if _no_space(language):
            # Not inside a run of Latin letters or digits; at a clause mark when one is near.
            cut = room
            while cut > 1 and text[cut - 1].isascii() and text[cut].isascii():
                if not (text[cut - 1].isalnum() and text[cut].isalnum()):
                    break
                cut -= 1
            marks = [i + 1 for i, ch in enumerate(text[:cut]) if ch in "，、；：,;:"]
            if marks and marks[-1] >= room // 2:
                cut = marks[-1]
            head = text[:cut]
    head = _bare(head) or text[:room]
    return head + ELLIPSIS


def chapter_title(text: str, language: str, limit: int = MAX_CHAPTER_CHARS) -> str:
    """A chapter title from a sentence: the sentence, else its leading clause, when it fits in
    `limit` characters; else the sentence cut at a word boundary with an ellipsis."""
    for phrase in (_bare(text), _leading_clause(text)):
        if phrase and len(phrase) <= limit and count_units(phrase, language) >= 2:
            return phrase
    return cut_at_word(text, language, limit)


def unique_titles(candidates: list[list[str]], language: str) -> list[str]:
    """One title per chapter, no two alike: each chapter takes its first candidate not yet
    used, else its first one numbered ' (2)', ' (3)'..., still within the length limit."""
    used: set[str] = set()
    titles = []
    for raw in candidates:
        options = [cut_at_word(t, language) for t in raw if t.strip()]
        title = next((t for t in options if t.casefold() not in used), None)
        number = 2
        while title is None:
            suffix = f" ({number})"
            numbered = cut_at_word(options[0], language, MAX_CHAPTER_CHARS - len(suffix)) + suffix
            title = numbered if numbered.casefold() not in used else None
            number += 1
        used.add(title.casefold())
        titles.append(title)
    return titles


# --------------------------------------------------------------------------------------------
# Styles.


@dataclass(frozen=True)
class StyleShape:
    presenters: str
    """Who speaks the source's sentences: 'lead', 'others' or 'all' (taking turns)."""
    opener: str
    """Phrase key that opens each section: 'ask', 'topic', 'headline' or 'story'."""
    opener_by: str
    """'lead' or 'others' (the listener asks, e.g. the learner in an educational episode)."""
    sentences_per_turn: int
    reaction: str | None
    """Phrase key another speaker answers each content turn with (None: no reactions)."""
    reaction_adds_question: bool = False
    handback: bool = False
    """News: the correspondent hands back to the anchor at the end of each report."""


STYLE_SHAPES: dict[int, StyleShape] = {
    1: StyleShape("lead", "ask", "others", 2, "reaction", reaction_adds_question=True),
    2: StyleShape("others", "ask", "lead", 2, "reaction", reaction_adds_question=True),
    3: StyleShape("all", "topic", "lead", 2, "followup"),
    4: StyleShape("lead", "story", "lead", 3, "curious"),
    5: StyleShape("others", "headline", "lead", 2, None, handback=True),
    6: StyleShape("all", "topic", "lead", 1, "excited"),
    7: StyleShape("lead", "topic", "lead", 2, "reflect"),
    8: StyleShape("all", "topic", "lead", 1, "funny"),
    9: StyleShape("lead", "topic", "lead", 2, "tease"),
}


@dataclass(frozen=True)
class CastMember:
    role: str
    name: str
    voice_id: str


def _cast(speakers: Sequence[Voice | None], phrases: dict[str, Any]) -> list[CastMember]:
    if not speakers:
        speakers = [None, None]
    cast = []
    for index, voice in enumerate(speakers):
        role = _role(index)
        name = (voice.display_name or voice.name) if voice is not None else ""
        cast.append(
            CastMember(
                role=role,
                name=name or f"{phrases['speaker']} {role}",
                voice_id=voice.step2_voice_id if voice is not None else "",
            )
        )
    return cast


def _role(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --------------------------------------------------------------------------------------------
# Building the dialogue.


@dataclass
class _Section:
    titles: list[str]
    """Chapter title candidates, best first (the final, unique one is chosen at the end)."""
    start: int
    end: int


@dataclass
class _Draft:
    turns: list[tuple[int, str]] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)


class _Writer:
    """Builds one draft; phrase choice rotates deterministically from a seed."""

    def __init__(
        self,
        *,
        shape: StyleShape,
        style: int,
        language: str,
        phrases: dict[str, Any],
        cast: list[CastMember],
        title: str,
        title_spoken: bool,
        seed: int,
        brief: bool,
    ) -> None:
        self.shape = shape
        self.style = style
        self.language = language
        self.phrases = phrases
        self.cast = cast
        self.title = title
        self.title_spoken = title_spoken
        self.seed = seed
        self.brief = brief
        self.uses: Counter[str] = Counter()
        self.rotation = 0

    def phrase(self, key: str, **values: str) -> str:
        options = self.phrases[key]
        if isinstance(options, str):
            options = (options,)
        choice = options[(self.seed + self.uses[key]) % len(options)]
        self.uses[key] += 1
        return choice.format(**values)

    def join(self, *parts: str) -> str:
        glue = "" if _no_space(self.language) else " "
        return glue.join(p for p in parts if p)

    @property
    def solo(self) -> bool:
        return len(self.cast) == 1

    def others(self) -> list[int]:
        return list(range(1, len(self.cast))) or [0]

    def name(self, index: int) -> str:
        return self.cast[index].name

    def write(self, sections: list[list[Sentence]], revisits: list[Sentence]) -> _Draft:
        draft = _Draft()
        self._intro(draft)
        for number, sentences in enumerate(sections):
            self._section(draft, number, sentences)
        if revisits:
            self._revisit(draft, revisits)
        self._outro(draft, sections)
        return draft

    def _say(
        self, draft: _Draft, speaker: int, text: str, *, merge_from: int | None = None
    ) -> None:
        """Add a turn; with `merge_from`, continue the speaker's own turn from that index on."""
        mergeable = merge_from is not None and len(draft.turns) > merge_from
        if mergeable and draft.turns[-1][0] == speaker:
            draft.turns[-1] = (speaker, self.join(draft.turns[-1][1], text))
        else:
            draft.turns.append((speaker, text))

    def _intro(self, draft: _Draft) -> None:
        style = self.phrases["styles"][self.style - 1]
        if not self.title_spoken:  # a sentence or a cut title reads badly inside a welcome
            welcome = self.phrase("welcome_plain", style=style, name=self.name(0))
        else:
            welcome = self.phrase("welcome", style=style, name=self.name(0), title=self.title)
        if not self.solo:
            names = self._names([self.name(i) for i in self.others()])
            welcome = self.join(welcome, self.phrase("introduce", names=names))
        self._say(draft, 0, welcome)
        for guest in self.others() if not self.solo else []:
            self._say(draft, guest, self.phrase("greet", name=self.name(0)))

    def _names(self, names: list[str]) -> str:
        if len(names) == 1:
            return names[0]
        separator = "、" if self.cjk else ", "
        return separator.join(names[:-1]) + self.phrases["and"] + names[-1]

    def _section(self, draft: _Draft, number: int, sentences: list[Sentence]) -> None:
        shape = self.shape
        topic = whole_phrase(sentences[0].text, self.language, 20 if self.cjk else 12) or ""
        others = self.others()
        guest = others[number % len(others)]
        start = len(draft.turns)

        presenter_for = self._presenters(guest)
        chunks = [
            sentences[i : i + shape.sentences_per_turn]
            for i in range(0, len(sentences), shape.sentences_per_turn)
        ]
        first_presenter = presenter_for(0)
        opener_speaker = 0 if shape.opener_by == "lead" or self.solo else guest
        if opener_speaker == first_presenter and shape.opener == "ask" and not self.solo:
            opener_speaker = next((i for i in others if i != first_presenter), 0)
        if opener_speaker == first_presenter:
            # Announcing the topic right before reading it out would only repeat it.
            if shape.opener == "story" and number == 0:
                opener = self.phrase("story")
            else:
                opener = self.phrase("transition") if number else ""
        else:
            opener = self._opener(number, topic, first_presenter)
            if number and opener_speaker == 0:
                opener = self.join(self.phrase("transition"), opener)
        if opener:
            # Continue the speaker's own intro turn rather than giving them two turns in a row.
            floor = draft.sections[-1].end + 1 if draft.sections else 0
            if draft.turns and draft.turns[-1][0] == opener_speaker and start - 1 >= floor:
                start -= 1
            self._say(draft, opener_speaker, opener, merge_from=floor)

        asked = False
        for index, chunk in enumerate(chunks):
            presenter = presenter_for(index)
            text = self.join(*(s.text for s in chunk))
            if asked:
                text = self.join(self.phrase("lead_in"), text)
            last = index == len(chunks) - 1
            if last and shape.handback and presenter != 0:
                text = self.join(text, self.phrase("back", name=self.name(0)))
            self._say(draft, presenter, text, merge_from=start)
            reaction = self._reaction(presenter, last)
            asked = reaction is not None and shape.reaction_adds_question
            if reaction is not None:
                self._say(draft, *reaction)
        titles = [chapter_title(s.text, self.language) for s in sentences]
        draft.sections.append(_Section(titles, start, len(draft.turns) - 1))

    @property
    def cjk(self) -> bool:
        return self.language in CJK_LANGUAGES

    def _presenters(self, guest: int) -> Callable[[int], int]:
        presenters = self.shape.presenters
        if self.solo or presenters == "lead":
            return lambda index: 0
        if presenters == "others":
            return lambda index: guest
        start = self.rotation

        def rotating(index: int) -> int:
            self.rotation = start + index + 1
            return (start + index) % len(self.cast)

        return rotating

    def _opener(self, number: int, topic: str, presenter: int) -> str:
        """Another speaker introduces the section's topic and hands over to its presenter."""
        shape = self.shape
        if shape.opener == "headline":
            headline = (
                self.phrase("headline", topic=topic) if topic else self.phrase("headline_plain")
            )
            return self.join(headline, self.phrase("handoff", name=self.name(presenter)))
        text = self.phrase("topic", topic=topic) if topic else self.phrase("topic_plain")
        if shape.opener == "story" and number == 0:
            text = self.join(self.phrase("story"), text)
        if shape.opener == "ask" and not self.solo:
            text = self.join(text, self.phrase("ask"))
        return text

    def _reaction(self, presenter: int, last: bool) -> tuple[int, str] | None:
        """Another speaker's answer to a content turn, if the style has one here."""
        shape = self.shape
        if self.solo or shape.reaction is None:
            return None
        if shape.presenters == "all":
            reactor = (presenter + 1) % len(self.cast)
        elif presenter == 0:
            reactor = self.others()[self.uses[shape.reaction] % len(self.others())]
        else:
            reactor = 0
        key = shape.reaction
        # A section ends without a question nobody answers and without the lead speaking twice.
        if last and (shape.reaction_adds_question or key in _QUESTIONS or reactor == 0):
            return None
        if key == "tease":
            return reactor, self.phrase("tease", name=self.name(presenter))
        text = self.phrase(key)
        if shape.reaction_adds_question:
            text = self.join(text, self.phrase("followup"))
        return reactor, text

    def _revisit(self, draft: _Draft, revisits: list[Sentence]) -> None:
        start = len(draft.turns)
        for number, sentence in enumerate(revisits):
            presenter = self._presenters(self.others()[number % len(self.others())])(0)
            if not self.solo:
                asker = 0 if presenter != 0 else self.others()[number % len(self.others())]
                if draft.turns and draft.turns[-1][0] == asker:
                    # Whoever just spoke answers; the other one asks (no one speaks twice).
                    asker, presenter = presenter, asker
                self._say(draft, asker, self.phrase("followup"))
            self._say(draft, presenter, self.join(self.phrase("revisit"), sentence.text))
        titles = [str(self.phrases["revisit_title"])]
        titles += [chapter_title(s.text, self.language) for s in revisits]
        draft.sections.append(_Section(titles, start, len(draft.turns) - 1))

    def _outro(self, draft: _Draft, sections: list[list[Sentence]]) -> None:
        closing = self.phrase("outro")
        limit = 24 if self.cjk else 16
        ranked = sorted((s for section in sections for s in section), key=_rank_key, reverse=True)
        # The recap quotes the best sentence that is (or opens with) a short whole phrase.
        best = next((p for s in ranked if (p := whole_phrase(s.text, self.language, limit))), None)
        if best and not self.brief:
            recap = self.join(self.phrase("recap"), finish_sentence(best, self.language))
            closing = self.join(recap, closing)
        self._say(draft, 0, closing)
        for guest in self.others() if not self.solo else []:
            self._say(draft, guest, self.phrase("farewell", name=self.name(0)))


def _rank_key(sentence: Sentence) -> tuple[float, int]:
    return (sentence.score, -sentence.position)


def _sections(sentences: list[Sentence], shape: StyleShape) -> list[list[Sentence]]:
    per_section = max(4, shape.sentences_per_turn * 2)
    count = math.ceil(len(sentences) / per_section)
    if count > MAX_SEGMENTS:
        per_section = math.ceil(len(sentences) / MAX_SEGMENTS)
    return [sentences[i : i + per_section] for i in range(0, len(sentences), per_section)]


def _draft_units(draft: _Draft, language: str) -> int:
    return sum(count_units(text, language) for _, text in draft.turns)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(digest[:8], 16)


def _plan(
    digest: SourceDigest, target: int, build: Any, language: str
) -> tuple[_Draft, list[Sentence]]:
    """Pick how many top-ranked sentences (and how many repeats) fill the length budget."""
    ranked = sorted(digest.sentences, key=_rank_key, reverse=True)

    def draft_with(count: int, revisits: int = 0) -> _Draft:
        chosen = sorted(ranked[:count], key=lambda s: s.position)
        repeat = [ranked[i % max(1, count)] for i in range(revisits)] if count else []
        return build(chosen, repeat)

    low, high = 0, len(ranked)
    # The largest sentence count whose script stays within the budget (drafts grow with count).
    while low < high:
        middle = (low + high + 1) // 2
        if _draft_units(draft_with(middle), language) <= target * 1.05:
            low = middle
        else:
            high = middle - 1
    count = max(low, min(1, len(ranked)))
    draft = draft_with(count)
    revisits = 0
    # A short source is revisited (each sentence at most twice more) to approach the budget.
    while count and revisits < 2 * count and _draft_units(draft, language) < target * 0.9:
        longer = draft_with(count, revisits + 1)
        if _draft_units(longer, language) > target * 1.05:
            break
        revisits += 1
        draft = longer
    return draft, sorted(ranked[:count], key=lambda s: s.position)


def _title(digest: SourceDigest, language: str, phrases: dict[str, Any]) -> str:
    """The heading, else the best sentence's whole phrase, else that sentence cut with '…'."""
    if digest.heading:
        return cut_at_word(digest.heading, language)
    if digest.sentences:
        best = max(digest.sentences, key=_rank_key)
        limit = 24 if language in CJK_LANGUAGES else 10
        return whole_phrase(best.text, language, limit) or cut_at_word(best.text, language)
    return str(phrases["default_title"])


def _summary(chosen: list[Sentence], language: str, phrases: dict[str, Any], title: str) -> str:
    limit = 120 if language in CJK_LANGUAGES else 60
    picked: list[Sentence] = []
    used = 0
    for sentence in sorted(chosen, key=_rank_key, reverse=True):
        if picked and used + sentence.units > limit:
            break
        picked.append(sentence)
        used += sentence.units
    glue = "" if _no_space(language) else " "
    body = glue.join(s.text for s in sorted(picked, key=lambda s: s.position))
    return glue.join((str(phrases["summary"]), body or title))


def write_script(
    source_text: str,
    *,
    style: int,
    duration: int,
    language: str,
    speakers: Sequence[Voice | None],
    source_data: str,
) -> dict[str, Any]:
    """The step-1 result fields for a source, as the API returns them (deterministic).

    Raises ValueError for an unknown style code or duration level; unknown languages get
    English phrases.
    """
    if style not in STYLE_SHAPES:
        raise ValueError(f"unknown style code {style!r}")
    if duration not in DURATION_BY_LEVEL:
        raise ValueError(f"unknown duration level {duration!r}")
    level = DURATION_BY_LEVEL[duration]
    phrases = phrases_for(language)
    shape = STYLE_SHAPES[style]
    cast = _cast(speakers, phrases)
    digest = digest_source(source_text, language)
    title = _title(digest, language, phrases)
    target = target_units(level, language)
    seed = _seed(source_text, style, duration, language, len(cast))

    def build(chosen: list[Sentence], revisits: list[Sentence]) -> _Draft:
        writer = _Writer(
            shape=shape,
            style=style,
            language=language,
            phrases=phrases,
            cast=cast,
            title=title,
            title_spoken=bool(digest.heading) and not title.endswith(ELLIPSIS),
            seed=seed,
            brief=level.level == 1,
        )
        return writer.write(_sections(chosen, shape), revisits)

    draft, chosen = _plan(digest, target, build, language)
    script = [
        {
            "role": cast[speaker].role,
            "name": cast[speaker].name,
            "avatar": "",
            "text": text,
            "voice_id": cast[speaker].voice_id,
        }
        for speaker, text in draft.turns
    ]
    titles = unique_titles([section.titles for section in draft.sections], language)
    for section, chosen_title in zip(draft.sections, titles, strict=True):
        section.titles = [chosen_title]
    highlights = [
        {
            "highlight": title,
            "index": number,
            "script_start_index": section.start,
            "script_end_index": section.end,
        }
        for number, (section, title) in enumerate(zip(draft.sections, titles, strict=True))
    ]
    if not highlights:
        highlights = [
            {
                "highlight": title,
                "index": 0,
                "script_start_index": 0,
                "script_end_index": len(script) - 1,
            }
        ]
    return {
        "title": title,
        "processed_content": _summary(chosen, language, phrases, title),
        "train_data": _outline(title, style, level, language, cast, draft, shape),
        "podcast_script": script,
        "hightlights": highlights,
        "podcast_script_txt": "\n".join(f"{t['name']}: {t['text']}" for t in script),
        "source_data": source_data,
        "avatar": None,
    }


_ROLE_NAMES: dict[int, tuple[str, str]] = {
    1: ("teacher", "learner"),
    2: ("host", "guest"),
    3: ("host", "co-host"),
    4: ("narrator", "listener"),
    5: ("anchor", "correspondent"),
    6: ("host", "co-host"),
    7: ("coach", "companion"),
    8: ("host", "co-host"),
    9: ("roastee", "roaster"),
}


def _outline(
    title: str,
    style: int,
    level: DurationLevel,
    language: str,
    cast: list[CastMember],
    draft: _Draft,
    shape: StyleShape,
) -> str:
    lead, other = _ROLE_NAMES[style]
    speakers = ", ".join(
        f"{member.role} = {member.name} ({lead if i == 0 else other})"
        for i, member in enumerate(cast)
    )
    lines = [
        f"Title: {title}",
        f"Style: {STYLE_NAMES[style]} | Duration: {level.label} | Language: {language}",
        f"Speakers: {speakers}",
        f"Turns: {len(draft.turns)}",
        "Outline:",
    ]
    for number, section in enumerate(draft.sections, start=1):
        lines.append(f"{number}. {section.titles[0]} (turns {section.start}-{section.end})")
    return "\n".join(lines)
