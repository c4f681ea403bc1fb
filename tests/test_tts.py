"""Offline speech: real espeak-ng synthesis, real MP3 encoding, measured on the decoded PCM."""

from __future__ import annotations

import array
import io
import itertools
import statistics
import threading
import time

import pytest
from mutagen.mp3 import MP3

from acbatch.sandbox import tts
from acbatch.sandbox.tts import VoiceProfile, voice_profile
from acbatch.voices import Voice

SENTENCE = "The quick brown fox jumps over the lazy dog, then rests in the warm afternoon sun."


def median_pitch_hz(pcm: bytes, rate: int, frames: int = 24) -> float:
    """Median fundamental frequency of the loud frames, by autocorrelation (60-400 Hz)."""
    samples = array.array("h")
    samples.frombytes(pcm)
    window = 600
    shortest, longest = rate // 400, rate // 60
    loud = [
        start
        for start in range(0, len(samples) - window - longest, rate // 20)
        if sum(x * x for x in samples[start : start + window : 4]) * 4 / window > 1e6
    ]
    step = max(1, len(loud) // frames)
    estimates = []
    for start in loud[::step][:frames]:
        frame = samples[start : start + window + longest]
        scores = {
            lag: sum(frame[i] * frame[i + lag] for i in range(0, window, 3))
            for lag in range(shortest, longest)
        }
        best = max(scores.values())
        # The shortest lag that correlates almost as well as the best one: multiples of the
        # period correlate nearly as well, and picking them would halve the pitch at random.
        best_lag = min(lag for lag, score in scores.items() if score >= 0.85 * best)
        estimates.append(rate / best_lag)
    assert estimates, "no voiced audio found"
    return statistics.median(estimates)


def speak(text: str, profile: VoiceProfile) -> tts.Speech:
    return tts.synthesize_pcm([(text, profile)])


def test_mp3_parses_and_duration_matches_segments() -> None:
    first, second = voice_profile(None, "en", 0), voice_profile(None, "en", 1)
    turns = [
        ("Welcome to the show. Today we talk about bees.", first),
        ("Thanks for having me.", second),
        ("", first),
        ("City bees make more honey than you might think.", first),
    ]
    result = tts.synthesize(turns, gap_seconds=0.35)

    info = MP3(io.BytesIO(result.mp3)).info
    assert info.channels == 1
    assert info.sample_rate == tts.sample_rate()
    assert abs(info.length - result.duration) < 0.15
    assert len(result.segments) == len(turns)
    previous_end = 0.0
    for (start, end), (text, _) in zip(result.segments, turns, strict=True):
        assert previous_end <= start <= end <= result.duration
        assert (end - start > 0.5) if text else (end == start)
        previous_end = end
    spoken = [segment for segment, (text, _) in zip(result.segments, turns, strict=True) if text]
    for (_, end), (start, _) in itertools.pairwise(spoken):
        assert start - end == pytest.approx(0.35, abs=0.01)
    assert result.duration - result.segments[-1][1] < 1.0


def test_female_and_male_speakers_sound_different() -> None:
    rate = tts.sample_rate()
    first = median_pitch_hz(speak(SENTENCE, voice_profile(None, "en", 0)).pcm, rate)
    second = median_pitch_hz(speak(SENTENCE, voice_profile(None, "en", 1)).pcm, rate)
    assert first / second > 1.5


@pytest.mark.parametrize("gender", ["female", "male"])
def test_same_gender_speakers_sound_different(gender: str) -> None:
    voice = Voice(id=1, name="x", display_name="X", language="en", gender_text=gender)
    profiles = [voice_profile(voice, "en", index) for index in (0, 1)]
    assert profiles[0].espeak_voice != profiles[1].espeak_voice
    rate = tts.sample_rate()
    pitches = sorted(median_pitch_hz(speak(SENTENCE, p).pcm, rate) for p in profiles)
    assert pitches[1] / pitches[0] > 1.2


def test_profiles_keep_catalog_gender_and_differ_per_speaker() -> None:
    female = Voice(id=1, name="a", display_name="A", language="en", gender_text="female")
    profiles = [voice_profile(female, "de", index) for index in range(5)]
    assert len(set(profiles)) == 5
    assert all("+f" in p.espeak_voice and p.espeak_voice.startswith("de+") for p in profiles)
    anonymous = [voice_profile(None, "en", index) for index in range(6)]
    assert len(set(anonymous)) == 6
    assert voice_profile(None, "en", 3) == voice_profile(None, "en", 3)


@pytest.mark.parametrize(
    ("language", "identifier"),
    [
        ("zh", "sit/cmn"),
        ("zh_yue", "sit/yue"),
        ("en", "gmw/en-US"),
        ("ar", "sem/ar"),
        ("ru", "zle/ru"),
        ("es", "roa/es"),
        ("fr", "roa/fr"),
        ("pt", "roa/pt-BR"),
        ("de", "gmw/de"),
        ("ja", "jpx/ja"),
        ("ko", "ko"),
    ],
)
def test_every_api_language_selects_its_espeak_voice(language: str, identifier: str) -> None:
    profile = voice_profile(None, language, 1)
    assert tts.resolved_voice(profile) == f"{identifier}+{profile.espeak_voice.split('+')[1]}"


def test_japanese_speech_is_not_empty_and_reads_kanji_as_speech() -> None:
    profile = voice_profile(None, "ja", 0)
    kana = speak("きょうは いい てんき です。", profile)
    assert kana.duration > 1.0
    assert kana.segments[0][1] - kana.segments[0][0] > 0.8
    # Each kanji voiced through the Japanese dictionary alone costs about a second
    # ("Chinese letter"); voiced as syllables, six of them take well under three seconds.
    kanji = speak("東京大学の学生", profile)
    assert 0.5 < kanji.segments[0][1] - kanji.segments[0][0] < 3.0
    latin = speak("Haruto です", profile)
    assert latin.segments[0][1] - latin.segments[0][0] < 2.0


def test_clean_text_removes_what_espeak_chokes_on() -> None:
    dirty = "Hello\x00 <b>there</b> \u200b**friend** 😀 see https://example.com/a/b?c=1 now\x07."
    assert tts.clean_text(dirty) == "Hello there friend see example.com now."
    assert tts.clean_text("\x01\x02 <br/> ") == ""
    assert len(tts.clean_text("word " * 5000)) == tts.MAX_TURN_CHARS


def test_synthesis_is_much_faster_than_real_time() -> None:
    profiles = [voice_profile(None, "en", 0), voice_profile(None, "en", 1)]
    turns = [(SENTENCE * 2, profiles[i % 2]) for i in range(8)]
    started = time.perf_counter()
    result = tts.synthesize(turns)
    elapsed = time.perf_counter() - started
    assert result.duration > 40
    assert result.duration / elapsed > 5


def test_concurrent_callers_get_their_own_audio() -> None:
    jobs = {
        "short-female": ("Yes.", voice_profile(None, "en", 0)),
        "long-male": (SENTENCE * 3, voice_profile(None, "en", 1)),
        "japanese": ("こんにちは、みなさん。", voice_profile(None, "ja", 2)),
    }
    expected = {name: speak(*job).duration for name, job in jobs.items()}
    results: dict[str, list[float]] = {name: [] for name in jobs}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for _ in range(3):
                results[name].append(speak(*jobs[name]).duration)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    for name, durations in results.items():
        assert len(durations) == 3
        assert all(d == pytest.approx(expected[name], rel=0.1) for d in durations), name


def test_sample_mp3_is_a_short_playable_clip() -> None:
    clip = tts.sample_mp3(voice_profile(None, "fr", 1), "Bonjour, je suis Louis.")
    length = MP3(io.BytesIO(clip)).info.length
    assert 1.0 < length < 6.0
