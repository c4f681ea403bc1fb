"""Benchmark: mastering a 30-minute episode (jingles, crossfades, loudness, true-peak limit).

    .venv/bin/python bench/bench_mastering.py [--minutes 30] [--rate 22050] [--channels 1]

Writes a speech-like MP3 of the given length (noise bursts and tones in syllable-like rhythm,
the sandbox's rate and channels by default), an MP3 intro and a WAV outro at another rate, then
times `acbatch.publish.mastering.master` in its own process: decoding, stitching with 0.5 s
crossfades, normalising to -16 LUFS with a -1 dBTP ceiling, encoding and the check of the
published file. Prints the speed as a multiple of real time beside the target (at least 20x)
and the measuring process's peak memory. Exits 2 if the target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_SPEED = 20.0
"""Seconds of episode mastered per second of wall time."""


def make_inputs(folder: Path, minutes: float, rate: int, channels: int) -> None:
    """The episode and its jingles, written by a child process (its memory is not counted)."""
    import wave

    import numpy as np

    from acbatch.publish.mastering import encode

    rng = np.random.default_rng(15)
    frames = int(minutes * 60 * rate)
    episode = np.empty((frames, channels), dtype=np.float32)
    step = rate * 10
    for begin in range(0, frames, step):
        end = min(frames, begin + step)
        t = np.arange(begin, end, dtype=np.float64) / rate
        syllables = (np.sin(2 * np.pi * 3.1 * t) > -0.2) * (np.sin(2 * np.pi * 0.23 * t) > -0.6)
        voice = 0.25 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.5 * t)) * t)
        noise = 0.04 * rng.standard_normal(end - begin)
        episode[begin:end] = ((voice + noise) * syllables).astype(np.float32)[:, None]
    with (folder / "episode.mp3").open("wb") as out:
        encode(episode, rate, channels, 64, out)
    del episode
    t = np.arange(int(4 * rate)) / rate
    intro = (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t / 3)).astype(np.float32)
    with (folder / "intro.mp3").open("wb") as out:
        encode(intro[:, None], rate, 1, 64, out)
    outro_rate = 44100
    t = np.arange(int(3 * outro_rate)) / outro_rate
    outro = (0.4 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
    with wave.open(str(folder / "outro.wav"), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(outro_rate)
        wav.writeframes(np.repeat(outro, 2).tobytes())


def measure(folder: Path) -> dict[str, float]:
    """Master the episode in this (fresh) process; its time, speed and peak memory."""
    import resource

    from acbatch.publish import mastering

    settings = mastering.MasteringSettings(
        intro=folder / "intro.mp3",
        outro=folder / "outro.wav",
        crossfade=0.5,
        loudness=mastering.Loudness(target=-16.0, true_peak=-1.0),
    )
    started = time.perf_counter()
    result = mastering.master(folder / "episode.mp3", folder / "published.mp3", settings)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "audio_seconds": result.duration,
        "loudness": result.loudness or 0.0,
        "true_peak": result.true_peak or 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=22050)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--make", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make:
        make_inputs(Path(args.make), args.minutes, args.rate, args.channels)
        return 0
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return 0

    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="acbatch-bench-mastering-") as name:
        me = [sys.executable, __file__]
        common = ["--minutes", str(args.minutes), "--rate", str(args.rate)]
        common += ["--channels", str(args.channels)]
        subprocess.run([*me, *common, "--make", name], check=True)
        answer = subprocess.run(
            [*me, *common, "--measure", name], check=True, capture_output=True, text=True
        )
        figures = json.loads(answer.stdout.strip().splitlines()[-1])
    speed = figures["audio_seconds"] / figures["seconds"]
    met = speed >= TARGET_SPEED
    print(
        f"{args.minutes:g}-minute episode, {args.rate} Hz, {args.channels} channel(s), "
        "intro MP3 + outro WAV, 0.5 s crossfades, -16 LUFS / -1 dBTP"
    )
    print(
        f"  mastered in {figures['seconds']:.1f} s: {speed:.1f}x real time "
        f"(target >= {TARGET_SPEED:g}x) {'met' if met else 'MISSED'}"
    )
    print(
        f"  published file: {figures['loudness']:.2f} LUFS, {figures['true_peak']:.2f} dBTP "
        "(target -16 +/- 0.5 LUFS, <= -1 dBTP)"
    )
    print(f"  peak memory of the mastering process: {figures['peak_rss_mb']:.0f} MB")
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
