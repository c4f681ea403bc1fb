"""Offline speech for the sandbox: espeak-ng (from espeakng-loader) via ctypes, MP3 via lameenc.

espeak-ng keeps global state and is not thread-safe, so every call into it happens under one
module lock, and the library is initialised lazily once per process. Synthesis runs far faster
than real time, so serialising it is cheap.
"""

from __future__ import annotations

import array
import ctypes
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import espeakng_loader
import lameenc

from acbatch.voices import Voice

# espeak-ng API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_SSML = 0x10
_RATE, _PITCH, _RANGE = 1, 3, 4
_EE_OK = 0

MP3_BITRATE_KBPS = 64
MAX_TURN_CHARS = 10_000
"""Longer turns are cut: one turn should never hold the synthesiser for minutes."""

_LEAD_IN_SECONDS = 0.25
_TAIL_SECONDS = 0.5
_SILENCE_THRESHOLD = 300
"""Samples quieter than this (of 32767) count as silence when trimming a turn's edges."""
_EDGE_KEEP_SECONDS = 0.04

ESPEAK_LANGUAGES: dict[str, str] = {
    "zh": "cmn",
    "zh_yue": "yue",
    "en": "en-us",
    "ar": "ar",
    "ru": "ru",
    "es": "es",
    "fr": "fr",
    "pt": "pt-br",
    "de": "de",
    "ja": "ja",
    "ko": "ko",
}
"""The API's language codes -> espeak-ng voices present in the bundled espeak-ng-data."""

DEFAULT_RATE = 165
"""espeak-ng's speed setting (about words per minute in English)."""
LANGUAGE_RATES: dict[str, int] = {"zh": 220, "zh_yue": 175, "ko": 225, "ar": 210, "fr": 145}
"""Per-language speeds, so every language speaks about 150 words (CJK: ~300 characters) a
minute: the pace the script writer's length budget assumes."""

# (variant, pitch, range, rate offset): distinct timbres first, so speakers 0 and 1 of the same
# gender already sound clearly different.
_FEMALE: tuple[tuple[str, int, int, int], ...] = (
    ("f3", 60, 55, 0),
    ("f4", 42, 40, -8),
    ("f2", 72, 60, 6),
    ("f1", 52, 50, -4),
    ("f5", 66, 45, 4),
)
_MALE: tuple[tuple[str, int, int, int], ...] = (
    ("m3", 55, 50, 0),
    ("m7", 20, 40, -6),
    ("m1", 58, 55, 6),
    ("m2", 38, 45, -3),
    ("m6", 52, 60, 3),
    ("m4", 25, 35, -8),
    ("m8", 48, 50, 8),
)


class SpeechError(Exception):
    """espeak-ng could not be loaded or failed to synthesise."""


@dataclass(frozen=True)
class VoiceProfile:
    """How espeak-ng speaks one speaker: `language+variant`, pitch/range 0-100, rate in wpm."""

    espeak_voice: str
    pitch: int
    rate: int
    range: int

    @property
    def espeak_language(self) -> str:
        return self.espeak_voice.split("+", 1)[0]


@dataclass(frozen=True)
class Speech:
    """Raw synthesis result: 16-bit signed mono little-endian PCM."""

    pcm: bytes
    sample_rate: int
    segments: list[tuple[float, float]]

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True)
class Synthesis:
    mp3: bytes
    duration: float
    segments: list[tuple[float, float]]
    """Each turn's (start, end) offset in seconds within the final audio."""


def espeak_language(language: str) -> str:
    """The espeak-ng voice for an API language code (English for unknown codes)."""
    return ESPEAK_LANGUAGES.get(language, ESPEAK_LANGUAGES["en"])


def voice_profile(voice: Voice | None, language: str, index: int) -> VoiceProfile:
    """A distinct voice for speaker number `index` of a script in `language`.

    The catalog voice's gender is kept when known; otherwise speakers alternate female/male.
    Speakers of the same gender at different indexes get different espeak variants and pitches.
    """
    gender = voice.gender_text.casefold() if voice is not None else ""
    if gender not in ("female", "male"):
        gender = "female" if index % 2 == 0 else "male"
        slot = index // 2
    else:
        slot = index
    palette = _FEMALE if gender == "female" else _MALE
    variant, pitch, pitch_range, rate_offset = palette[slot % len(palette)]
    # Past the palette, each round shifts pitch and pace, so large catalogs stay distinct.
    round_ = slot // len(palette)
    if round_:
        pitch = (pitch + 9 * round_) % 101
        rate_offset += 2 * (round_ % 5) - 4
    return VoiceProfile(
        espeak_voice=f"{espeak_language(language)}+{variant}",
        pitch=pitch,
        rate=LANGUAGE_RATES.get(language, DEFAULT_RATE) + rate_offset,
        range=pitch_range,
    )


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakVoiceInfo(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
    )


class _Espeak:
    """One initialised espeak-ng; callers must hold `_LOCK`."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise SpeechError(f"cannot load espeak-ng: {exc}") from None
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_SetSynthCallback.argtypes = (_SYNTH_CALLBACK,)
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_EspeakVoiceInfo)
        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise SpeechError("espeak-ng failed to initialise")
        self.lib = lib
        self.sample_rate: int = rate
        self._chunks: list[bytes] = []
        # espeak keeps only a raw pointer: this object must outlive every synthesis call.
        self._callback = _SYNTH_CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: int) -> int:
        if count > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def select(self, profile: VoiceProfile) -> None:
        for name in (profile.espeak_voice, profile.espeak_language, "en-us"):
            if self.lib.espeak_SetVoiceByName(name.encode()) == _EE_OK:
                break
        self.lib.espeak_SetParameter(_RATE, max(80, min(450, profile.rate)), 0)
        self.lib.espeak_SetParameter(_PITCH, max(0, min(100, profile.pitch)), 0)
        self.lib.espeak_SetParameter(_RANGE, max(0, min(100, profile.range)), 0)

    def current_voice_identifier(self) -> str:
        info = self.lib.espeak_GetCurrentVoice()
        return (info.contents.identifier or b"").decode() if info else ""

    def speak(self, text: str, *, ssml: bool) -> bytes:
        data = text.encode("utf-8")
        self._chunks = []
        flags = _CHARS_UTF8 | (_SSML if ssml else 0)
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, flags, None, None)
        self.lib.espeak_Synchronize()
        if status != _EE_OK:
            raise SpeechError(f"espeak-ng synthesis failed (status {status})")
        pcm = b"".join(self._chunks)
        self._chunks = []
        return pcm


_LOCK = threading.Lock()
_ENGINE: _Espeak | None = None


def _engine() -> _Espeak:
    """The process's espeak-ng; call with `_LOCK` held."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Espeak()
    return _ENGINE


def sample_rate() -> int:
    with _LOCK:
        return _engine().sample_rate


def resolved_voice(profile: VoiceProfile) -> str:
    """The espeak-ng voice identifier a profile actually selects (e.g. 'gmw/en-US+f3')."""
    with _LOCK:
        engine = _engine()
        engine.select(profile)
        return engine.current_voice_identifier()


_TAG = re.compile(r"<[^<>]{0,300}>")
_URL = re.compile(r"\bhttps?://([^\s/?#]+)\S*", re.IGNORECASE)
_MARKUP = re.compile(r"(\*{1,3}|_{2,}|`+|~~|\[\[|\]\]|^#{1,6}\s|[{}|\\^]|(?<=\s)#+(?=\s))", re.M)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[,.;:!?、。，！？])")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "So"})
_FOREIGN_RUN = re.compile(
    r"(?P<kanji>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<latin>[A-Za-z\u00c0-\u024f]"
    r"(?:[A-Za-z\u00c0-\u024f0-9'’.\- ]*[A-Za-z\u00c0-\u024f0-9])?)"
)


def clean_text(text: str) -> str:
    """Text espeak-ng reads well: no control characters, markup, emoji or full URLs."""
    text = unicodedata.normalize("NFC", text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(lambda m: m.group(1), text)
    text = _MARKUP.sub(" ", text)
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    text = _SPACE_BEFORE_PUNCTUATION.sub("", _SPACES.sub(" ", text))
    return text.strip()[:MAX_TURN_CHARS]


def _espeak_input(text: str, profile: VoiceProfile) -> tuple[str, bool]:
    """Text to hand to espeak, and whether it is SSML.

    The bundled Japanese voice has no kanji readings (it says "Chinese letter" for each one) and
    spells Latin words letter by letter, so in Japanese those runs switch language: kanji get
    Mandarin readings, Latin words English ones. The speaker's variant and pitch carry over.
    """
    if profile.espeak_language != "ja" or not _FOREIGN_RUN.search(text):
        return text, False
    parts: list[str] = []
    last = 0
    for match in _FOREIGN_RUN.finditer(text):
        language = "cmn" if match.group("kanji") else "en"
        parts.append(escape(text[last : match.start()]))
        parts.append(f'<voice xml:lang="{language}">{escape(match.group(0))}</voice>')
        last = match.end()
    parts.append(escape(text[last:]))
    return "<speak>" + "".join(parts) + "</speak>", True


def _trim_silence(pcm: bytes, rate: int) -> bytes:
    samples = array.array("h")
    samples.frombytes(pcm)
    start = 0
    while start < len(samples) and abs(samples[start]) < _SILENCE_THRESHOLD:
        start += 1
    end = len(samples)
    while end > start and abs(samples[end - 1]) < _SILENCE_THRESHOLD:
        end -= 1
    if start >= end:
        return b""
    keep = int(_EDGE_KEEP_SECONDS * rate)
    return samples[max(0, start - keep) : min(len(samples), end + keep)].tobytes()


def _silence(seconds: float, rate: int) -> bytes:
    return bytes(2 * round(seconds * rate))


def synthesize_pcm(
    turns: Sequence[tuple[str, VoiceProfile]], *, gap_seconds: float = 0.35
) -> Speech:
    """Speak each (text, voice) turn in order, with `gap_seconds` of silence between turns."""
    with _LOCK:
        engine = _engine()
        rate = engine.sample_rate
        spoken: list[bytes] = []
        for text, profile in turns:
            cleaned = clean_text(text)
            if not cleaned:
                spoken.append(b"")
                continue
            engine.select(profile)
            espeak_text, ssml = _espeak_input(cleaned, profile)
            spoken.append(_trim_silence(engine.speak(espeak_text, ssml=ssml), rate))
    parts = [_silence(_LEAD_IN_SECONDS, rate)]
    segments: list[tuple[float, float]] = []
    offset = len(parts[0]) // 2
    gap = _silence(max(0.0, gap_seconds), rate)
    for number, pcm in enumerate(spoken):
        if number and pcm:
            parts.append(gap)
            offset += len(gap) // 2
        start = offset
        parts.append(pcm)
        offset += len(pcm) // 2
        segments.append((start / rate, offset / rate))
    parts.append(_silence(_TAIL_SECONDS, rate))
    return Speech(b"".join(parts), rate, segments)


def encode_mp3(pcm: bytes, rate: int, *, bitrate_kbps: int = MP3_BITRATE_KBPS) -> bytes:
    """Mono 16-bit PCM -> constant-bitrate MP3."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())


def synthesize(
    turns: Sequence[tuple[str, VoiceProfile]], *, gap_seconds: float = 0.35
) -> Synthesis:
    """Speak a script's turns into one MP3, with each turn's real offsets in it."""
    speech = synthesize_pcm(turns, gap_seconds=gap_seconds)
    return Synthesis(
        encode_mp3(speech.pcm, speech.sample_rate), speech.duration, list(speech.segments)
    )


def sample_mp3(profile: VoiceProfile, text: str) -> bytes:
    """A short voice sample."""
    return synthesize([(text, profile)]).mp3
