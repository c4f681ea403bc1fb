"""Benchmark: render a show of many episodes; wall time and peak memory per scenario.

    .venv/bin/python bench/bench_render.py                 # 10,000 episodes, median of 3
    .venv/bin/python bench/bench_render.py --episodes 2000 --repeat 1 --keep /tmp/show
    .venv/bin/python bench/bench_render.py --only command  # `acbatch render` as a whole command

In-process scenarios: each measurement runs in a fresh process (so its peak RSS is its own)
that builds the episodes, prepares the scenario, then times render_show alone. In order:

  first render        no cache, untagged MP3s: tags every MP3, writes every file and fragment
                      (run once: it is the setup of the others; bound by MP3 tagging and disk)
  nothing changed     every episode skipped by content hash; feed and page from cached items
  one changed         one episode's title changed: its MP3 re-tagged, its files and item redone
  full render         show.explicit flipped: every feed item and page article rendered again
                      by Jinja (every feed item changes), the whole feed checked; no MP3 or
                      file touched
  feed check alone    check_feed_file on the 10,000-item feed.xml (parse, rules, file sizes)

The command scenario (`--only command`) builds a project of N specs with finished episodes in
state/ (the state a run leaves: script, download record, MP3), renders it once with `acbatch
render`, then times `acbatch render` as a whole command, start-up included, after one spec's
title changed (the incremental case) and with nothing changed. Wall time and peak RSS are the
child's own (see _common.run_child).

Targets (10,000 episodes): full render under 5 s; incremental render (one episode changed)
under 1 s in process; `acbatch render`, incremental, under 3 s and 300 MB as a whole command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from acbatch.project.defaults import build
from acbatch.project.model import Publish, ShowConfig
from acbatch.publish.feedcheck import check_feed_file
from acbatch.publish.model import Highlight, PublishedEpisode, Turn
from acbatch.publish.render import render_show

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' sample episodes
from tests.samples import mp3_bytes, sample_config, sample_episode

FULL_TARGET_SECONDS = 5.0
INCREMENTAL_TARGET_SECONDS = 1.0
COMMAND_TARGET_SECONDS = 3.0
COMMAND_TARGET_MB = 300.0
START = datetime(2000, 1, 1, 6, 0, tzinfo=timezone.utc)
ITEM_TEMPLATES = ("feed_item.xml.j2", "index_item.html.j2")
SCENARIOS = {
    "first": "first render (tags + every file)",
    "unchanged": "nothing changed",
    "one": "one episode changed",
    "every": "full render (every item, Jinja)",
    "check": "feed check alone",
    "command": "`acbatch render` as a command",
}
IN_PROCESS_TARGETS = {"one": INCREMENTAL_TARGET_SECONDS, "every": FULL_TARGET_SECONDS}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show_config(root: Path, explicit: bool = False) -> ShowConfig:
    return sample_config(root / "show", explicit=explicit)


def build_episodes(
    config: ShowConfig, count: int, turns_per_episode: int
) -> list[PublishedEpisode]:
    episodes = []
    for index in range(count):
        turns = tuple(
            Turn("AB"[t % 2], ("Alice", "Bob")[t % 2], f"Line {t} of episode {index} & more.")
            for t in range(turns_per_episode)
        )
        highlights = (
            Highlight("Opening", 0, 1),
            Highlight("Middle <part>", turns_per_episode // 2, turns_per_episode - 1),
        )
        episodes.append(
            sample_episode(
                config,
                f"ep{index:05d}",
                title=f"Episode {index}: a title where 3 < 4 & emoji 🎧",
                description=f"Episode {index} covers things.\n\nSecond paragraph ]]> done.",
                turns=turns,
                highlights=highlights,
                pub_date=START + timedelta(hours=index),
                publish=build(Publish, season=1 + index // 1000, episode=index + 1),
                write_audio=False,
            )
        )
    return episodes


def write_untagged_mp3s(config: ShowConfig, episodes: list[PublishedEpisode]) -> None:
    audio = mp3_bytes(1.0)
    for episode in episodes:
        episode.audio_path.parent.mkdir(parents=True, exist_ok=True)
        episode.audio_path.write_bytes(audio)


def run_scenario(scenario: str, root: Path, count: int, turns: int, repetition: int) -> None:
    """Child process: prepare `scenario`, time it, print one JSON line."""
    # Show settings: 'every' flips explicit each repetition, so every item changes.
    explicit = scenario == "every" and repetition % 2 == 0
    config = show_config(root, explicit=explicit)
    episodes = build_episodes(config, count, turns)
    now = START + timedelta(hours=count + 1)
    if scenario == "first":
        shutil.rmtree(config.paths.output, ignore_errors=True)
        shutil.rmtree(config.paths.state, ignore_errors=True)
        shutil.rmtree(config.paths.config.parent / ".acbatch", ignore_errors=True)
        write_untagged_mp3s(config, episodes)
    if scenario == "one":
        episodes[0] = replace(episodes[0], title=f"Changed title {repetition}")
    before = peak_rss_mib()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if scenario == "check":
        problems = check_feed_file(config.paths.output / "feed.xml")
        assert not [p for p in problems if p.severity == "error"], problems[:3]
    else:
        report = render_show(config, episodes, now=now)
        timings = report.timings
        assert len(report.published) == count
    elapsed = time.perf_counter() - started
    result = {"wall": elapsed, "rss": peak_rss_mib(), "rss_before": before, "timings": timings}
    print(json.dumps(result))


def measure(args: argparse.Namespace, root: Path, scenario: str) -> list[dict[str, Any]]:
    results = []
    for repetition in range(1 if scenario == "first" else args.repeat):
        command = [sys.executable, __file__, "--child", scenario, "--root", str(root)]
        command += ["--episodes", str(args.episodes), "--turns", str(args.turns)]
        command += ["--repetition", str(repetition)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"scenario {scenario} failed")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def report_line(scenario: str, results: list[dict[str, Any]]) -> tuple[float, float]:
    walls = [r["wall"] for r in results]
    wall = statistics.median(walls)
    rss = statistics.median(r["rss"] for r in results)
    median_run = min(results, key=lambda r: abs(r["wall"] - wall))
    spread = " ".join(f"{w:.2f}" for w in walls)
    print(
        f"{SCENARIOS[scenario]:<42} {wall:7.2f} s  peak RSS {rss:6.0f} MiB"
        f"  (runs {spread} s; {median_run['rss_before']:.0f} MiB before rendering)",
        flush=True,
    )
    if median_run["timings"]:
        phases = "  ".join(f"{k} {v:.2f}" for k, v in median_run["timings"].items())
        print(f"{'':<42} {phases}", flush=True)
    return wall, rss


def write_finished_project(root: Path, count: int, turns: int) -> Path:
    """A project of `count` specs whose episodes are finished (downloaded), as a run leaves it."""
    from _common import episode_id, write_show

    from acbatch.runner.state import Download, EpisodeState, Phase, StateStore

    config = write_show(root, count)
    store = StateStore(root / "state")
    store.folder.mkdir(parents=True, exist_ok=True)
    audio = mp3_bytes(1.0)
    for number in range(1, count + 1):
        name = episode_id(number)
        relative = f"output/episodes/{name}/{name}.mp3"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(audio)
        script = [
            {"speaker": ("Alice", "Bob")[t % 2], "text": f"Line {t} of {name} & more."}
            for t in range(turns)
        ]
        state = EpisodeState(id=name, phase=Phase.DOWNLOADED, guid=f"bench-{name}")
        state.script.result = {"title": f"Episode {number}", "podcast_script": script}
        state.audio.result = {"podcast_script": script}
        state.download = Download(
            path=relative,
            bytes=len(audio),
            sha256="0" * 64,
            duration=1.0,
            downloaded_at="2026-01-01T00:00:00Z",
        )
        # Written as a run writes it, without an fsync per file (that is not what is measured).
        path = store.path_for(name)
        path.write_text(json.dumps(state.to_json(), sort_keys=True), encoding="utf-8")
    return config


def measure_command(args: argparse.Namespace, root: Path) -> tuple[float, float]:
    """`acbatch render` on a finished project: cold once, then incremental and unchanged."""
    from _common import ACBATCH, episode_id, episode_spec, run_child

    project = root / "command"
    started = time.perf_counter()
    write_finished_project(project, args.episodes, args.turns)
    print(f"built {args.episodes} finished episodes in {time.perf_counter() - started:.1f} s")

    def render(label: str) -> tuple[float, float]:
        run = run_child([*ACBATCH, "render"], cwd=project)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            raise SystemExit(f"acbatch render failed ({label})")
        return run.seconds, run.peak_rss_mb

    seconds, rss = render("first")
    print(
        f"{'first `acbatch render` (tags every MP3)':<42} {seconds:7.2f} s  peak RSS {rss:4.0f} MB"
    )
    spec = project / "specs" / f"{episode_id(1)}.yaml"
    results: dict[str, list[tuple[float, float]]] = {"one": [], "unchanged": []}
    for repetition in range(args.repeat):
        spec.write_text(
            episode_spec(1).replace("tide pools", f"tide pools, take {repetition}", 1),
            encoding="utf-8",
        )
        results["one"].append(render("one"))
        results["unchanged"].append(render("unchanged"))
    for key, label in (("one", "one spec changed"), ("unchanged", "nothing changed")):
        walls = [wall for wall, _ in results[key]]
        wall = statistics.median(walls)
        peak = statistics.median(rss for _, rss in results[key])
        spread = " ".join(f"{w:.2f}" for w in walls)
        print(
            f"{'`acbatch render`, ' + label:<42} {wall:7.2f} s  peak RSS {peak:4.0f} MB"
            f"  (runs {spread} s)",
            flush=True,
        )
    wall = statistics.median(w for w, _ in results["one"])
    peak = statistics.median(r for _, r in results["one"])
    return wall, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=8, help="dialogue turns per episode")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--keep", type=Path, default=None, help="render here and keep it")
    parser.add_argument(
        "--tmp", type=Path, default=None, help="folder for the temporary show (e.g. /dev/shm)"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help="comma-separated scenarios to run (the others need the first render's state: "
        "use with --keep on a folder a full run left)",
    )
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repetition", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_scenario(args.child, args.root, args.episodes, args.turns, args.repetition)
        return 0

    root = args.keep or Path(tempfile.mkdtemp(prefix="acbatch-bench-", dir=args.tmp))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.episodes} episodes, {args.turns} turns each; median of {args.repeat} runs")
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at start")
    verdicts: list[str] = []
    try:
        chosen = [scenario for scenario in SCENARIOS if scenario in args.only.split(",")]
        figures = {
            scenario: report_line(scenario, measure(args, root, scenario))
            for scenario in chosen
            if scenario != "command"
        }
        feed = root / "show" / "output" / "feed.xml"
        site = root / "show" / "output" / "index.html"
        if feed.is_file() and site.is_file():
            sizes = f"feed.xml {feed.stat().st_size / 1e6:.1f} MB"
            print(f"{sizes}, index.html {site.stat().st_size / 1e6:.1f} MB")
        for scenario, target in IN_PROCESS_TARGETS.items():
            if scenario in figures:
                wall, _rss = figures[scenario]
                verdicts.append(
                    f"{SCENARIOS[scenario]}: {wall:.2f} s (target < {target:.0f} s) "
                    + ("met" if wall < target else "MISSED")
                )
        if "command" in chosen:
            wall, peak = measure_command(args, root)
            ok = wall < COMMAND_TARGET_SECONDS and peak < COMMAND_TARGET_MB
            verdicts.append(
                f"`acbatch render`, one spec changed: {wall:.2f} s, {peak:.0f} MB "
                f"(target < {COMMAND_TARGET_SECONDS:.0f} s, < {COMMAND_TARGET_MB:.0f} MB) "
                + ("met" if ok else "MISSED")
            )
        print()
        for line in verdicts:
            print(line)
        return 2 if any(line.endswith("MISSED") for line in verdicts) else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
