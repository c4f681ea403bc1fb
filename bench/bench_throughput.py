"""Benchmark: how close a batch gets to the service's concurrency limit allows, against a
hand-written sequential loop.

    .venv/bin/python bench/bench_throughput.py
    .venv/bin/python bench/bench_throughput.py --episodes 200 --concurrency 8 --repeats 3

The sandbox runs in its own process (`acbatch sandbox --no-speech`) with fixed task latencies
(script L1, audio L2) and a concurrency limit C (tasks waiting at once per key; more creates are
refused with 101004). The ideal wall time for N episodes is ceil(N / C) x (L1 + L2), plus the
(here tiny) downloads. Three runs:

1. the runner told the limit (jobs = C);
2. the runner not told (jobs = 32): it must find the limit from the 101004 answers;
3. a naive baseline: one episode at a time, create, poll every second, create, poll, download,
   as a user would script it with acbatch.api.client.PodcastClient. It runs fewer episodes
   (--baseline-episodes) and is extrapolated per episode to N.

Prints wall / ideal, API requests per episode (each episode also downloads one MP3, not counted),
the 101004 and 101003 answers, and the runner's speedup over the baseline (target: at least 5x
at C=8).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from _common import (
    BENCH_KEY,
    SandboxProcess,
    api_requests,
    heading,
    machine_note,
    median,
    responses,
    run_in_process,
    verdict,
    write_show,
)

SPEEDUP_TARGET = 5.0
UNKNOWN_LIMIT_JOBS = 32
NAIVE_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Trial:
    wall: float
    done: int
    requests: int
    refused_concurrency: int
    refused_rate: int


def runner_trial(args: argparse.Namespace, jobs: int, workdir: Path) -> Trial:
    with SandboxProcess(
        script_delay=args.latency, audio_delay=args.latency, concurrency=args.concurrency
    ) as sandbox:
        config = write_show(workdir, args.episodes, api={"jobs": jobs})
        started = time.perf_counter()
        result = run_in_process(config, sandbox.url, jobs=jobs)
        wall = time.perf_counter() - started
        stats = sandbox.stats()
    done = sum(1 for r in result.summary.results if r.outcome.value == "done")
    return Trial(
        wall, done, api_requests(stats), responses(stats, 101004), responses(stats, 101003)
    )


def naive_episode(client: object, number: int, folder: Path) -> None:
    """One episode the way a user would script it by hand, polling every second."""
    from acbatch.api.client import PodcastClient, audio_request_from_script

    assert isinstance(client, PodcastClient)
    script_id = client.create_script(
        {
            "source_type": 4,
            "speakers": [16098, 16093],
            "style": 2,
            "duration": 1,
            "use_mode": "ai",
            "commercial_use": 0,
            "language": "en",
            "text": f"Episode {number} is about tide pools and the animals in them.",
        }
    )
    while True:
        time.sleep(NAIVE_POLL_SECONDS)
        script = client.get_script(script_id)
        if not script.waiting:
            break
    audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
    while True:
        time.sleep(NAIVE_POLL_SECONDS)
        audio = client.get_audio(audio_id)
        if not audio.waiting:
            break
    response = requests.get(audio.data["file_url"], timeout=30)
    response.raise_for_status()
    (folder / f"naive-{number}.mp3").write_bytes(response.content)


def naive_trial(args: argparse.Namespace, workdir: Path) -> tuple[float, int]:
    """Seconds per episode of the sequential loop, and its API requests per episode."""
    from acbatch.api.client import PodcastClient

    workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(
        script_delay=args.latency, audio_delay=args.latency, concurrency=args.concurrency
    ) as sandbox:
        client = PodcastClient(BENCH_KEY, sandbox.url)
        started = time.perf_counter()
        for number in range(1, args.baseline_episodes + 1):
            naive_episode(client, number, workdir)
        wall = time.perf_counter() - started
        requests_made = api_requests(sandbox.stats())
    return wall / args.baseline_episodes, round(requests_made / args.baseline_episodes)


def report_runner(label: str, trials: list[Trial], ideal: float, episodes: int) -> float:
    wall = median(t.wall for t in trials)
    print(f"{label}")
    print(f"  wall time        {wall:7.1f} s  (runs: {', '.join(f'{t.wall:.1f}' for t in trials)})")
    print(f"  wall / ideal     {wall / ideal:7.2f}   (ideal {ideal:.0f} s)")
    print(f"  episodes done    {min(t.done for t in trials)} / {episodes}")
    requests_each = median(t.requests for t in trials) / episodes
    print(f"  API requests     {requests_each:7.2f} per episode (the minimum is 4)")
    print(f"  101004 answers   {median(t.refused_concurrency for t in trials):7.0f}")
    print(f"  101003 answers   {median(t.refused_rate for t in trials):7.0f}", flush=True)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="the sandbox's limit C")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per task (L1 = L2)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration")
    parser.add_argument("--baseline-episodes", type=int, default=4)
    args = parser.parse_args(argv)

    ideal = math.ceil(args.episodes / args.concurrency) * 2 * args.latency
    print(machine_note())
    print(
        f"{args.episodes} episodes; sandbox: C={args.concurrency}, L1=L2={args.latency:g} s, "
        f"no speech; ideal ceil(N/C) x (L1+L2) = {ideal:.0f} s; median of {args.repeats} run(s)"
    )
    with tempfile.TemporaryDirectory(prefix="acbatch-bench-") as scratch:
        root = Path(scratch)
        heading(f"runner told the limit (jobs={args.concurrency})")
        told = [
            runner_trial(args, args.concurrency, root / f"told-{i}") for i in range(args.repeats)
        ]
        told_wall = report_runner("runner, jobs = C", told, ideal, args.episodes)

        heading(f"runner not told the limit (jobs={UNKNOWN_LIMIT_JOBS})")
        found = [
            runner_trial(args, UNKNOWN_LIMIT_JOBS, root / f"found-{i}") for i in range(args.repeats)
        ]
        found_wall = report_runner("runner, jobs = 32", found, ideal, args.episodes)

        heading(f"naive sequential loop ({args.baseline_episodes} episodes, extrapolated)")
        naive = [naive_trial(args, root / f"naive-{i}") for i in range(args.repeats)]
        per_episode = median(n[0] for n in naive)
        naive_wall = per_episode * args.episodes
        print(f"  per episode      {per_episode:7.2f} s, {naive[0][1]} API requests")
        print(f"  for {args.episodes} episodes  {naive_wall:7.0f} s (extrapolated)")

    heading("summary")
    ok = True
    for label, wall in (("jobs = C", told_wall), ("jobs = 32", found_wall)):
        speedup = naive_wall / wall
        ok &= speedup >= SPEEDUP_TARGET
        print(
            f"  runner ({label}): {wall:.1f} s, {wall / ideal:.2f} x ideal, "
            f"{speedup:.1f}x faster than the naive loop "
            f"(target >= {SPEEDUP_TARGET:.0f}x: {verdict(speedup >= SPEEDUP_TARGET)})"
        )
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
