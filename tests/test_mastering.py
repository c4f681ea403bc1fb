"""Jingles, crossfades and loudness: the published MP3 is made locally from the API's audio.

Every loudness and true-peak figure here is read by libebur128 (pyebur128), not by the
pyloudnorm meter acbatch normalises with. Audio is real: sine and noise written with the
standard library's `wave`, MP3 through lameenc, and the sandbox's speech.
"""

from __future__ import annotations

import json
import math
import random
import struct
import wave
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import miniaudio
import numpy as np
import pyebur128
import pytest
import yaml
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from acbatch.project.loader import load_project
from acbatch.publish import mastering
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.state import StateStore
from tests.conftest import plan_project, text_episode, write_show

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
SHIFT_TOLERANCE = 0.05


# -- real audio ------------------------------------------------------------------------------


def write_tone_wav(
    path: Path, seconds: float, frequency: float, *, rate: int = 44100, channels: int = 1
) -> Path:
    """A sine with a little noise, faded in and out, as 16-bit PCM."""
    noise = random.Random(frequency)
    frames = bytearray()
    total = int(seconds * rate)
    for i in range(total):
        fade = min(1.0, i / (0.05 * rate), (total - i) / (0.05 * rate))
        value = 0.45 * math.sin(2 * math.pi * frequency * i / rate) + 0.02 * noise.gauss(0, 1)
        sample = struct.pack("<h", max(-32767, min(32767, int(value * fade * 32767))))
        frames += sample * channels
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def write_speechlike_mp3(
    path: Path, seconds: float, *, level: float, rate: int = 22050, channels: int = 1
) -> Path:
    """Bursts of voiced tone and noise at a syllable rhythm, encoded by lameenc."""
    import lameenc

    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(3)
    syllables = (np.sin(2 * np.pi * 3.3 * t) > -0.1) * (np.sin(2 * np.pi * 0.31 * t) > -0.5)
    voice = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 450 * t)
    signal = level * (voice + 0.3 * rng.standard_normal(len(t))) * syllables
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    pcm = np.repeat(pcm[:, None], channels, axis=1)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(5)
    path.write_bytes(bytes(encoder.encode(pcm.tobytes())) + bytes(encoder.flush()))
    return path


def write_tone_mp3(path: Path, seconds: float, frequency: float, *, rate: int = 22050) -> Path:
    """The tone of write_tone_wav, as an MP3 (with LAME's encoder delay and padding)."""
    import lameenc

    wav = write_tone_wav(path.with_suffix(".wav"), seconds, frequency, rate=rate)
    with wave.open(str(wav), "rb") as source:
        pcm = source.readframes(source.getnframes())
    wav.unlink()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(96)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(1)
    path.write_bytes(bytes(encoder.encode(pcm)) + bytes(encoder.flush()))
    return path


def decoded(path: Path) -> tuple[np.ndarray, int, int]:
    info = miniaudio.get_file_info(str(path))
    sound = miniaudio.decode_file(
        str(path),
        output_format=miniaudio.SampleFormat.FLOAT32,
        nchannels=info.nchannels,
        sample_rate=info.sample_rate,
    )
    samples = np.frombuffer(sound.samples, dtype=np.float32).reshape(-1, sound.nchannels)
    return samples, sound.sample_rate, sound.nchannels


def independent_meter(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of an audio file, by libebur128."""
    samples, rate, channels = decoded(path)
    mode = pyebur128.MeasurementMode.MODE_I | pyebur128.MeasurementMode.MODE_TRUE_PEAK
    state = pyebur128.R128State(channels, rate, mode)
    interleaved = np.ascontiguousarray(samples).reshape(-1)
    state.add_frames(interleaved, len(samples))
    peak = max(pyebur128.get_true_peak(state, channel) for channel in range(channels))
    return pyebur128.get_loudness_global(state), 20 * math.log10(peak)


def lag_of(original: Path, published: Path, expected: float) -> float:
    """Where a stretch of the original's speech is found in the published file (seconds),
    searched within half a second of `expected`."""
    a, rate, _ = decoded(original)
    b, _, _ = decoded(published)
    a, b = a[:, 0].astype(np.float64), b[:, 0].astype(np.float64)
    energy = np.convolve(a**2, np.ones(rate // 10), mode="same")
    start = int(np.argmax(energy > 0.2 * energy.max()))  # the first loud speech
    piece = a[start : start + rate]
    low = max(0, start + int((expected - 0.5) * rate))
    window = b[low : low + len(piece) + rate]
    scores = np.correlate(window, piece, mode="valid")
    return (low + int(np.argmax(scores)) - start) / rate


# -- projects --------------------------------------------------------------------------------


def with_audio(config: Path, audio: dict[str, Any] | None) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    if audio is None:
        data.pop("audio", None)
    else:
        data["audio"] = audio
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def run(config: Path, base_url: str) -> Any:
    project = load_project(config)
    assert not project.errors, [str(p) for p in project.errors]
    return run_project(project, RunRequest(base_url=base_url, seed=7, poll_initial=0.05))


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", "test-key-123")


def published_timings(root: Path, episode_id: str) -> dict[str, Any]:
    folder = root / "output" / "episodes" / episode_id
    transcript = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    chapters = json.loads((folder / "chapters.json").read_text(encoding="utf-8"))["chapters"]
    tags = ID3(folder / f"{episode_id}.mp3")
    chap_frames = sorted(tags.getall("CHAP"), key=lambda frame: frame.start_time)
    vtt = (folder / "transcript.vtt").read_text(encoding="utf-8")
    return {
        "segments": [segment["startTime"] for segment in transcript["segments"]],
        "chapters": [chapter["startTime"] for chapter in chapters],
        "chap_frames": [frame.start_time / 1000 for frame in chap_frames],
        "vtt_first": _vtt_seconds(vtt.split("\n\n")[1].splitlines()[1].split(" --> ")[0]),
    }


def _vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def check_published(root: Path, episode_id: str, speech_start: float) -> None:
    """The bar: loudness by an independent meter, and every time shifted by the intro."""
    store = StateStore(root / "state")
    state = store.load(episode_id)
    assert state is not None and state.mastered is not None
    published = root / state.mastered.path
    original = root / state.download.path
    assert published != original and original.name == f"{episode_id}.original.mp3"

    loudness, peak = independent_meter(published)
    assert abs(loudness - -16.0) <= 0.5, loudness
    assert peak <= -1.0, peak
    assert MP3(published).info.sample_rate == MP3(original).info.sample_rate

    assert abs(state.mastered.speech_start - speech_start) <= SHIFT_TOLERANCE
    assert abs(lag_of(original, published, speech_start) - speech_start) <= SHIFT_TOLERANCE

    turns = state.audio.result["podcast_script"]
    timings = published_timings(root, episode_id)
    expected = [turn["start_time"] + speech_start for turn in turns]
    assert len(timings["segments"]) == len(expected)
    for got, want in zip(timings["segments"], expected, strict=True):
        assert abs(got - want) <= SHIFT_TOLERANCE, (got, want)
    assert abs(timings["vtt_first"] - expected[0]) <= SHIFT_TOLERANCE
    highlights = state.audio.result["hightlights"]
    wanted_chapters = sorted(h["start_time"] + speech_start for h in highlights)
    wanted_chapters[0] = speech_start  # the first chapter opens where the speech does
    for got_list in (timings["chapters"], timings["chap_frames"]):
        assert len(got_list) == len(wanted_chapters)
        for got, want in zip(got_list, wanted_chapters, strict=True):
            assert abs(got - want) <= SHIFT_TOLERANCE, (got, want)

    feed = ET.parse(root / "output" / "feed.xml").getroot()
    for item in feed.iter("item"):
        if item.findtext("guid") == state.guid:
            enclosure = item.find("enclosure")
            assert enclosure is not None
            assert int(enclosure.get("length", "0")) == published.stat().st_size
            assert enclosure.get("url", "").endswith(f"/{episode_id}.mp3")
            duration = item.findtext(f"{ITUNES}duration") or ""
            assert abs(int(duration) - MP3(published).info.length) <= 1
            break
    else:
        raise AssertionError(f"{episode_id} is not in the feed")


# -- the bar ---------------------------------------------------------------------------------


def test_jingles_and_loudness_then_a_new_jingle_costs_no_api_request(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory()  # real speech, with real turn offsets
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 3)})
    write_tone_wav(tmp_path / "jingles" / "intro.wav", 3.0, 440.0)
    write_tone_wav(tmp_path / "jingles" / "outro.wav", 2.0, 330.0, rate=48000, channels=2)
    with_audio(config, {"intro": "jingles/intro.wav", "outro": "jingles/outro.wav"})

    first = run(config, server.url)
    assert first.summary.exit_code == 0, first.summary.results
    for episode_id in ("ep-1", "ep-2"):
        check_published(tmp_path, episode_id, speech_start=3.0 - 0.5)

    # A new intro, as MP3: `plan` announces local work and no credits, `run` sends nothing.
    write_tone_mp3(tmp_path / "jingles" / "intro.mp3", 5.0, 523.0)
    with_audio(config, {"intro": "jingles/intro.mp3", "outro": "jingles/outro.wav"})
    project = load_project(config)
    store = StateStore(tmp_path / "state")
    planned = plan_project(project, store)
    assert [item.action for item in planned] == ["master", "master"]
    assert all(not item.paid and item.credits_high == 0 for item in planned)
    assert all("audio.intro changed" in item.reason for item in planned)
    assert all("audio.outro" not in item.reason for item in planned)

    before = server.stats()["requests"]
    second = run(config, server.url)
    assert second.summary.exit_code == 0
    assert second.summary.requests == 0
    assert server.stats()["requests"] == before
    for episode_id in ("ep-1", "ep-2"):
        check_published(tmp_path, episode_id, speech_start=5.0 - 0.5)
    assert [item.action for item in plan_project(load_project(config), store)] == ["done"] * 2


def test_loudness_off_and_no_jingles_publish_the_api_audio_unchanged(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory()
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    with_audio(config, {"loudness": "off"})  # written as the YAML word off
    config.write_text(config.read_text().replace("loudness: 'off'", "loudness: off"))
    assert run(config, server.url).summary.exit_code == 0
    state = StateStore(tmp_path / "state").load("ep-1")
    assert state is not None and state.mastered is not None
    published, original = tmp_path / state.mastered.path, tmp_path / state.download.path
    assert published.read_bytes()[-4096:] == original.read_bytes()[-4096:]  # tags aside
    assert state.mastered.loudness is None and state.mastered.speech_start == 0.0

    # Turning loudness on again is local work too.
    with_audio(config, None)
    planned = plan_project(load_project(config), StateStore(tmp_path / "state"))
    assert [item.action for item in planned] == ["master"]
    assert "audio.loudness changed" in planned[0].reason
    before = server.stats()["requests"]
    assert run(config, server.url).summary.requests == 0
    assert server.stats()["requests"] == before
    loudness, peak = independent_meter(published)
    assert abs(loudness + 16) <= 0.5 and peak <= -1.0


def test_a_deleted_published_file_is_made_again_locally(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    assert run(config, server.url).summary.exit_code == 0
    published = tmp_path / "output" / "episodes" / "ep-1" / "ep-1.mp3"
    published.unlink()
    planned = plan_project(load_project(config), StateStore(tmp_path / "state"))
    assert [item.action for item in planned] == ["master"]
    assert "missing" in planned[0].reason
    before = server.stats()["requests"]
    assert run(config, server.url).summary.requests == 0
    assert server.stats()["requests"] == before
    assert published.is_file()


# -- the mastering itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "rate", "channels"),
    [(0.02, 22050, 1), (0.9, 44100, 2), (0.3, 24000, 1)],
    ids=["quiet-mono", "loud-stereo", "api-rate"],
)
def test_every_level_lands_on_target_at_the_original_rate(
    tmp_path: Path, level: float, rate: int, channels: int
) -> None:
    original = write_speechlike_mp3(
        tmp_path / "api.mp3", 40.0, level=level, rate=rate, channels=channels
    )
    settings = mastering.MasteringSettings(loudness=mastering.Loudness(-16.0, -1.0))
    made = mastering.master(original, tmp_path / "published.mp3", settings)
    loudness, peak = independent_meter(made.path)
    assert abs(loudness + 16) <= 0.5, loudness
    assert peak <= -1.0, peak
    info = MP3(made.path).info
    assert (info.sample_rate, info.channels) == (rate, channels)
    assert made.speech_start == 0.0


def test_another_target_and_ceiling_are_honoured(tmp_path: Path) -> None:
    original = write_speechlike_mp3(tmp_path / "api.mp3", 30.0, level=0.2)
    settings = mastering.MasteringSettings(loudness=mastering.Loudness(-19.0, -2.0))
    made = mastering.master(original, tmp_path / "published.mp3", settings)
    loudness, peak = independent_meter(made.path)
    assert abs(loudness + 19) <= 0.5 and peak <= -2.0


def test_crossfades_are_cut_to_short_jingles(tmp_path: Path) -> None:
    original = write_speechlike_mp3(tmp_path / "api.mp3", 10.0, level=0.3)
    intro = write_tone_wav(tmp_path / "blip.wav", 0.2, 880.0)
    settings = mastering.MasteringSettings(intro=intro, crossfade=2.0)
    made = mastering.master(original, tmp_path / "published.mp3", settings)
    assert made.speech_start == 0.0  # the whole 0.2 s blip overlaps the speech
    settings = mastering.MasteringSettings(intro=intro, crossfade=0.0)
    made = mastering.master(original, tmp_path / "published.mp3", settings)
    assert abs(made.speech_start - 0.2) <= 0.001
    assert abs(lag_of(original, made.path, 0.2) - 0.2) <= SHIFT_TOLERANCE


def test_a_jingle_that_is_not_audio_fails_the_episode_clearly(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    (tmp_path / "jingles").mkdir()
    (tmp_path / "jingles" / "intro.mp3").write_text("not audio at all", encoding="utf-8")
    with_audio(config, {"intro": "jingles/intro.mp3"})
    result = run(config, server.url)
    assert result.summary.exit_code != 0
    [episode] = result.summary.results
    assert "could not be mastered" in episode.message and "intro.mp3" in episode.message
    assert "Traceback" not in episode.message
    # Fixing the file needs no API call.
    write_tone_wav(tmp_path / "jingles" / "intro.wav", 1.0, 440.0)
    with_audio(config, {"intro": "jingles/intro.wav"})
    before = server.stats()["requests"]
    assert run(config, server.url).summary.exit_code == 0
    assert server.stats()["requests"] == before


@pytest.mark.parametrize(
    ("audio", "field", "words"),
    [
        ({"intro": "../outside.wav"}, "audio.intro", "outside the project folder"),
        ({"outro": "jingles/none.mp3"}, "audio.outro", "is not a file"),
        ({"intro": "cover.png"}, "audio.intro", "not an MP3 or WAV file"),
        ({"crossfade": 30}, "audio.crossfade", "maximum"),
        ({"loudness": {"target": 3}}, "audio.loudness", ""),
    ],
)
def test_bad_audio_settings_name_the_file_line_and_field(
    tmp_path: Path, audio: dict[str, Any], field: str, words: str
) -> None:
    config = write_show(tmp_path / "show", {"ep-1": text_episode(1)})
    write_tone_wav(tmp_path / "outside.wav", 0.5, 440.0)
    with_audio(config, audio)
    project = load_project(config)
    problems = [p for p in project.errors if p.field.startswith(field)]
    assert problems, [str(p) for p in project.errors]
    assert problems[0].file == config and problems[0].line > 1
    assert words in problems[0].message


def test_an_episode_published_before_mastering_keeps_its_audio_and_is_mastered_for_free(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory()
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    assert run(config, server.url).summary.exit_code == 0
    # As an older acbatch left it: the download is the published file, no mastering record.
    store = StateStore(tmp_path / "state")
    state = store.load("ep-1")
    assert state is not None and state.download is not None
    folder = tmp_path / "output" / "episodes" / "ep-1"
    (folder / "ep-1.original.mp3").replace(folder / "ep-1.mp3")
    state.download.path = "output/episodes/ep-1/ep-1.mp3"
    state.mastered = None
    store.save(state)
    downloaded = (folder / "ep-1.mp3").read_bytes()

    planned = plan_project(load_project(config), store)
    assert [item.action for item in planned] == ["master"] and not planned[0].paid
    before = server.stats()["requests"]
    assert run(config, server.url).summary.requests == 0
    assert server.stats()["requests"] == before
    state = store.load("ep-1")
    assert state is not None and state.download is not None and state.mastered is not None
    assert state.download.path.endswith("ep-1.original.mp3")
    assert (folder / "ep-1.original.mp3").read_bytes() == downloaded
    loudness, peak = independent_meter(folder / "ep-1.mp3")
    assert abs(loudness + 16) <= 0.5 and peak <= -1.0


def test_silence_is_published_as_it_is_and_its_state_stays_json(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)  # the sandbox's silent audio
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    assert run(config, server.url).summary.exit_code == 0
    text = (tmp_path / "state" / "ep-1.json").read_text(encoding="utf-8")
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the state file"))
    state = StateStore(tmp_path / "state").load("ep-1")
    assert state is not None and state.mastered is not None
    assert state.mastered.loudness is None


def test_the_sandbox_job_of_a_fresh_project_publishes_normalised_episodes(tmp_path: Path) -> None:
    import subprocess
    import sys

    def acbatch(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "acbatch", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    acbatch("init", "show")
    acbatch("-C", "show", "run", "--sandbox")
    episodes = tmp_path / "show" / "sandbox" / "output" / "episodes"
    published = sorted(p for p in episodes.glob("*/*.mp3") if ".original" not in p.name)
    assert published and len(published) == len(list(episodes.glob("*/*.original.mp3")))
    for mp3 in published:
        loudness, peak = independent_meter(mp3)
        assert abs(loudness + 16) <= 0.5 and peak <= -1.0, (mp3.name, loudness, peak)
