"""Benchmark: whole `acbatch run` commands against the API's physical limit.

    .venv/bin/python bench/bench_throughput.py              # the bars and the stall, ~4 min
    .venv/bin/python bench/bench_throughput.py --all --repeats 3     # every setting, ~21 min

The server is a strict fixed-latency stand-in of the API written for this (bench/
fixed_latency_server.py, built on the tests' independent API double, not acbatch's sandbox): a
task answers `waiting` until exactly L seconds after its create, at most C tasks are unfinished
at once and a create beyond that is refused with 101004. The physical limit of N episodes is

    ideal = ceil(N / C) x (L1 + L2)        (here L1 = L2 = L)

Each trial is a whole command, `acbatch run` as a subprocess on a fresh generated show (no
learnt task times), start-up, downloads and render included, timed from start to exit:

- C told: jobs = C;
- C found: jobs = 4C, the runner finds C from the 101004 answers.

A hand-written sequential loop (create, poll every second, create, poll, download) runs a few
episodes at 200/8/1 s and is extrapolated, for the speedup (target: at least 5x).

Per setting it prints the median wall / ideal, polls per task (status calls / tasks), 101004 and
101003 answers. The stall scenario holds back one status answer for 30 s after the first wave
and checks that every later task's deciding poll reaches the server within 10% of L after the
task is ready ("within one wave": tasks created more than L after the stalled poll was sent).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from _common import ACBATCH, heading, machine_note, run_child, verdict, write_show
from fixed_latency_server import FixedLatencyServer, catalog_document

BARS = {(48, 8, 1.0): (1.15, 1.3), (200, 8, 1.0): (1.15, 1.3), (100, 16, 0.5): (1.3, 1.3)}
"""(N, C, L) -> (most wall / ideal with C told, with C found)."""
EXTRA = [(64, 4, 2.0), (32, 8, 5.0)]
"""Settings measured with --all (no bar of their own)."""
POLLS_BAR = 4.0
STALL_SHARE = 0.10
KEY = "bench-key-0001"
NAIVE_SETTING = (200, 8, 1.0)
NAIVE_EPISODES = 4
NAIVE_POLL_SECONDS = 1.0
SPEEDUP_TARGET = 5.0
NAGLE = False


@dataclass(frozen=True)
class Trial:
    wall: float
    done: int
    polls_per_task: float
    refused_concurrency: int
    refused_rate: int
    startup: float
    """From the command's start to its first create."""
    span: float
    """From the first create to the last task's deciding poll."""
    lateness: float
    """Sum of (deciding poll received - task ready) over tasks, divided by C."""
    handoff: float
    """Sum of the time slots stood empty between a task's end and the next create, over C."""
    tail: float
    """From the last deciding poll to the command's exit (download, render, exit)."""


def show(root: Path, episodes: int, jobs: int) -> Path:
    config = write_show(root, episodes, api={"jobs": jobs})
    (root / "voices.json").write_text(json.dumps(catalog_document()), encoding="utf-8")
    return config


def run_command(root: Path, server: FixedLatencyServer, jobs: int) -> tuple[float, int, str]:
    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": server.url, "CI": "1"}
    child = run_child(
        [*ACBATCH, "-C", str(root), "-v", "run", "--jobs", str(jobs), "--json"],
        env=env,
    )
    done = 0
    with contextlib.suppress(ValueError, KeyError):
        done = json.loads(child.stdout)["outcomes"].get("done", 0)
    return child.seconds, done, child.stderr


def trial(root: Path, episodes: int, concurrency: int, latency: float, jobs: int) -> Trial:
    show(root, episodes, jobs)
    with FixedLatencyServer(
        script_latency=latency,
        audio_latency=latency,
        concurrency=concurrency,
        audio_seconds=1.0,
        nagle=NAGLE,
    ) as server:
        started = time.monotonic()
        wall, done, _stderr = run_command(root, server, jobs)
        first = server.first_create() or started
        deciding = server.deciding_polls()
        last = max((call.received for call in deciding.values()), default=first)
        late = sum(late for _c, _s, late in server.lateness())
        busy = sum(t.latency for t in server.tasks.values()) + late
        span = last - first
        return Trial(
            wall,
            done,
            server.polls() / max(1, server.task_count()),
            server.refusals[101004],
            server.refusals[101003],
            first - started,
            span,
            late / concurrency,
            span - busy / concurrency,
            started + wall - last,
        )


def setting(
    scratch: Path, episodes: int, concurrency: int, latency: float, repeats: int
) -> dict[str, list[Trial]]:
    results: dict[str, list[Trial]] = {}
    for label, jobs in (("told", concurrency), ("found", 4 * concurrency)):
        results[label] = [
            trial(
                scratch / f"{episodes}-{concurrency}-{latency}-{label}-{i}",
                episodes,
                concurrency,
                latency,
                jobs,
            )
            for i in range(repeats)
        ]
    return results


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def stall_scenario(scratch: Path, args: argparse.Namespace) -> bool:
    episodes, concurrency, latency = args.stall_setting
    episodes, concurrency = int(episodes), int(concurrency)
    heading(
        f"stall: N={episodes}, C={concurrency}, L={latency:g} s, one status answer held "
        f"{args.stall_seconds:g} s after the first wave"
    )
    root = scratch / "stall"
    show(root, episodes, concurrency)
    with FixedLatencyServer(
        script_latency=latency,
        audio_latency=latency,
        concurrency=concurrency,
        audio_seconds=1.0,
        stall_after=1.5 * latency,
        stall_seconds=args.stall_seconds,
    ) as server:
        wall, done, stderr = run_command(root, server, concurrency)
        stalled = server.stalled
        rows = server.lateness()
        polls = server.polls() / max(1, server.task_count())
    if stalled is None:
        print("  no status call was stalled (run too short)")
        return False
    later = [
        (created, step, late)
        for created, step, late in rows
        if created > stalled.received + latency
    ]
    late_ones = [late for _c, _s, late in later if late > STALL_SHARE * latency]
    worst = max((late for _c, _s, late in later), default=0.0)
    retries = stderr.count("poll_retry")
    ideal = math.ceil(episodes / concurrency) * 2 * latency
    print(f"  wall {wall:.1f} s ({wall / ideal:.2f} x ideal {ideal:.0f} s), {done}/{episodes} done")
    print(f"  stalled poll: a {stalled.step} task, answer held {args.stall_seconds:g} s")
    print(f"  the runner gave up on it and asked again: {retries} time(s) (poll_retry at -v)")
    print(f"  polls per task {polls:.2f}")
    print(
        f"  tasks created later than one wave after the stall: {len(later)}; deciding poll "
        f"later than {STALL_SHARE:.0%} of L after ready: {len(late_ones)}; worst {worst:.3f} s "
        f"({worst / latency:.1%} of L)"
    )
    ok = bool(later) and not late_ones
    print(f"  bar (every later step polled within {STALL_SHARE:.0%} of L): {verdict(ok)}")
    return ok


def naive_episode(client: Any, number: int, folder: Path) -> None:
    """One episode the way a user would script it by hand, polling every second."""
    from tests.conftest import audio_request_from_script

    body = {
        "source_type": 4,
        "speakers": [16098, 16093],
        "style": 2,
        "duration": 1,
        "use_mode": "ai",
        "commercial_use": 0,
        "language": "en",
        "text": f"Episode {number} is about tide pools and the animals in them.",
    }
    script_id = client.create_script(body)
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


def baseline(scratch: Path, told_wall: float | None) -> bool:
    """A hand-written sequential loop at 200/8/1 s, extrapolated from a few episodes."""
    from acbatch.api.client import PodcastClient

    episodes, concurrency, latency = NAIVE_SETTING
    heading(f"naive sequential loop at N={episodes}, C={concurrency}, L={latency:g} s")
    folder = scratch / "naive"
    folder.mkdir(parents=True, exist_ok=True)
    with FixedLatencyServer(
        script_latency=latency, audio_latency=latency, concurrency=concurrency, audio_seconds=1.0
    ) as server:
        client = PodcastClient(KEY, server.url)
        started = time.perf_counter()
        for number in range(1, NAIVE_EPISODES + 1):
            naive_episode(client, number, folder)
        per_episode = (time.perf_counter() - started) / NAIVE_EPISODES
    naive_wall = per_episode * episodes
    print(f"  {per_episode:.2f} s per episode, {naive_wall:.0f} s for {episodes} (extrapolated)")
    if told_wall is None:
        return True
    speedup = naive_wall / told_wall
    ok = speedup >= SPEEDUP_TARGET
    print(
        f"  acbatch run (C told) is {speedup:.1f}x faster "
        f"(target >= {SPEEDUP_TARGET:.0f}x: {verdict(ok)})"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting (median)")
    parser.add_argument("--all", action="store_true", help="also 64/4/2 s and 32/8/5 s")
    parser.add_argument("--only", nargs=3, type=float, metavar=("N", "C", "L"), default=None)
    parser.add_argument("--stall-seconds", type=float, default=30.0)
    parser.add_argument(
        "--stall-setting", nargs=3, type=float, metavar=("N", "C", "L"), default=(96, 8, 2.0)
    )
    parser.add_argument("--no-stall", action="store_true")
    parser.add_argument("--stall-only", action="store_true")
    parser.add_argument("--baseline-only", action="store_true")
    parser.add_argument(
        "--server-nagle",
        action="store_true",
        help="leave Nagle's algorithm on in the server (up to 40 ms more per answer)",
    )
    args = parser.parse_args(argv)
    global NAGLE
    NAGLE = args.server_nagle

    only_one = args.stall_only or args.baseline_only
    settings = [] if only_one else list(BARS) + (EXTRA if args.all else [])
    if args.only:
        settings = [(int(args.only[0]), int(args.only[1]), args.only[2])]
    print(machine_note())
    print(f"whole `acbatch run` commands (render included), median of {args.repeats}")
    ok = True
    rows = []
    told_walls: dict[tuple[int, int, float], float] = {}
    with tempfile.TemporaryDirectory(prefix="acbatch-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for episodes, concurrency, latency in settings:
            ideal = math.ceil(episodes / concurrency) * 2 * latency
            heading(f"N={episodes}, C={concurrency}, L={latency:g} s: ideal {ideal:g} s")
            results = setting(scratch, episodes, concurrency, latency, args.repeats)
            bars = BARS.get((episodes, concurrency, latency))
            cells = [f"{episodes} | {concurrency} | {latency:g} s"]
            for index, label in enumerate(("told", "found")):
                trials = results[label]
                wall = median([t.wall for t in trials])
                ratio = wall / ideal
                polls = median([t.polls_per_task for t in trials])
                r4 = median([t.refused_concurrency for t in trials])
                r3 = max(t.refused_rate for t in trials)
                done = min(t.done for t in trials)
                met = (bars is None or ratio <= bars[index]) and polls <= POLLS_BAR and r3 == 0
                met = met and done == episodes
                ok &= met
                if label == "told":
                    told_walls[(episodes, concurrency, latency)] = wall
                runs = ", ".join(f"{t.wall / ideal:.2f}" for t in trials)
                bar = f"<= {bars[index]}" if bars else "no bar"
                print(
                    f"  C {label:5}  wall/ideal {ratio:.2f} ({bar}; runs {runs})  "
                    f"polls/task {polls:.2f}  101004 {r4:.0f}  101003 {r3}  "
                    f"done {done}/{episodes}  {verdict(met)}",
                    flush=True,
                )
                cells.append(f"{ratio:.2f} ({polls:.2f} polls/task, {r4:.0f} x 101004)")
                print(
                    "           where the time goes (median s): "
                    f"start-up {median([t.startup for t in trials]):.2f}, "
                    f"tasks {median([t.span for t in trials]):.2f} of which late polls "
                    f"{median([t.lateness for t in trials]):.2f} and empty slots "
                    f"{median([t.handoff for t in trials]):.2f}, "
                    f"download+render+exit {median([t.tail for t in trials]):.2f}",
                    flush=True,
                )
            rows.append(" | ".join(cells))
        if not args.no_stall and not args.only and not args.baseline_only:
            ok &= stall_scenario(scratch, args)
        if not args.only and not args.stall_only:
            ok &= baseline(scratch, told_walls.get(NAIVE_SETTING))
    heading("summary (N | C | L | C told | C found)")
    for row in rows:
        print(f"  {row}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
