"""Specs through the sandbox over HTTP to real speech: length, voices and language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from mutagen.mp3 import MP3

from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.state import StateStore
from acbatch.sandbox import tts
from acbatch.sandbox.catalog import profile_for_voice_id
from tests.conftest import write_show

ENGLISH = (
    "Tide pools form where the sea leaves water behind in hollows of rock at low tide. "
    "Sea stars grip the stone with hundreds of tiny tube feet. Anemones close into soft "
    "buttons when the water drains away, and open again when it returns. Hermit crabs trade "
    "shells as they grow, sometimes lining up by size to swap. Visitors should step only on "
    "bare rock and put back any stone they turn over, because the animals under it depend "
    "on the shade and the damp."
)
JAPANESE = (
    "おちゃ は にほん の せいかつ に ふかく ねづいて います。 まいにち の ごはん の あと に "
    "あたたかい おちゃ を のむ ひと が おおい です。 おちゃ の いれかた には いろいろ な "
    "くふう が あります。 おゆ の おんど を すこし さげる と あまみ が でます。"
)


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", "speech-test-key")


def run_one(tmp_path: Path, server: Any, spec: dict[str, Any]) -> tuple[Any, Path]:
    config = write_show(tmp_path, {"ep": spec})
    result = run_project(
        load_project(config), RunRequest(base_url=server.url, render=False, poll_initial=0.2)
    )
    assert result.summary.results[0].outcome.value == "done", result.summary.to_json()
    state = StateStore(tmp_path / "state").load("ep")
    return state, tmp_path / state.download.path


def test_an_english_interview_at_level_2_is_one_to_three_minutes_of_two_voices(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory()
    spec = {
        "source": {"text": ENGLISH},
        "style": "interview",
        "duration": 2,
        "language": "en",
        "speakers": ["ava", "leo"],
    }
    state, mp3 = run_one(tmp_path, server, spec)
    length = MP3(mp3).info.length
    assert 60 <= length <= 180, length
    assert abs(length - state.download.duration) < 0.5
    turns = state.audio.result["podcast_script"]
    voices = {turn["role"]: turn["voice_id"] for turn in turns}
    assert voices == {"A": "sandbox/ava", "B": "sandbox/leo"}
    # Each turn carries its real offset in the file, in order and inside the audio.
    starts = [turn["start_time"] for turn in turns]
    assert starts == sorted(starts) and starts[0] >= 0 and turns[-1]["end_time"] <= length + 0.5
    # The two roles' voices: different espeak voices, and measurably different pitch.
    first, second = (profile_for_voice_id(voices[r], "en", i) for i, r in enumerate("AB"))
    assert first != second
    sentence = "The tide is coming back in over the rocks."
    from tests.test_tts import median_pitch_hz

    rate = tts.sample_rate()
    high = median_pitch_hz(tts.synthesize_pcm([(sentence, first)]).pcm, rate)
    low = median_pitch_hz(tts.synthesize_pcm([(sentence, second)]).pcm, rate)
    assert high / low > 1.3, (high, low)
    # The file the runner downloaded is the sandbox's, byte for byte.
    served = requests.get(state.audio.result["file_url"], timeout=10).content
    assert served == mp3.read_bytes()


def test_a_japanese_spec_is_spoken_in_japanese(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory()
    spec = {
        "source": {"text": JAPANESE},
        "style": "educational",
        "duration": 1,
        "language": "ja",
        "speakers": ["yui", "haruto"],
    }
    state, mp3 = run_one(tmp_path, server, spec)
    assert MP3(mp3).info.length > 10
    turns = state.script.result["podcast_script"]
    kana = re.compile(r"[\u3040-\u30ff]")
    assert all(kana.search(turn["text"]) for turn in turns)
    profile = profile_for_voice_id(turns[0]["voice_id"], "ja", 0)
    assert tts.resolved_voice(profile).split("+")[0].endswith("ja")
