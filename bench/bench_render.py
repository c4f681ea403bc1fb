"""Benchmark: render a show of many episodes; wall time and peak memory per scenario.

    .venv/bin/python bench/bench_render.py                 # 10,000 episodes, median of 3
    .venv/bin/python bench/bench_render.py --episodes 2000 --repeat 1 --keep /tmp/show

Each measurement runs in a fresh process (so its peak RSS is its own) that builds the episodes,
prepares the scenario, then times render_show alone (peak RSS is the render process's; when it
checks many new items in a second process, that one peaks at about 42 MiB for 10,000 items).
Scenarios, in order:

  first render        no state, untagged MP3s: tags every MP3, writes every file and fragment
  nothing changed     every episode skipped by content hash; feed and page from cached items
  one changed         one episode's title changed: its MP3 re-tagged, its files and item redone
  every item          show.explicit flipped: every feed item and page article rendered again
                      (every feed item changes), the whole feed checked; no MP3 or file touched
  every item, Jinja   the same through edited copies of the item templates in templates/
  feed check alone    check_feed_file on the 10,000-item feed.xml (parse, rules, file sizes)

Target: a 10,000-episode feed (feed.xml + index.html, every item rendered and checked) in under
3 s, under 300 MB. The first render is bound by MP3 tagging and file creation (fsync per MP3);
--tmp /dev/shm leaves the disk out of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

from acbatch.publish.feedcheck import check_feed_file
from acbatch.publish.model import Highlight, PublishedEpisode, Turn
from acbatch.publish.render import render_show
from acbatch.publish.samples import mp3_bytes, sample_config, sample_episode
from acbatch.spec.model import Publish, ShowConfig

TARGET_SECONDS = 3.0
TARGET_MIB = 300.0
START = datetime(2000, 1, 1, 6, 0, tzinfo=timezone.utc)
ITEM_TEMPLATES = ("feed_item.xml.j2", "index_item.html.j2")
SCENARIOS = {
    "first": "first render (tags + every file)",
    "unchanged": "nothing changed",
    "one": "one episode changed",
    "every": "every item re-rendered (show setting)",
    "jinja": "every item re-rendered (Jinja overrides)",
    "check": "feed check alone",
}


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
                publish=Publish(season=1 + index // 1000, episode=index + 1),
                write_audio=False,
            )
        )
    return episodes


def write_untagged_mp3s(config: ShowConfig, episodes: list[PublishedEpisode]) -> None:
    audio = mp3_bytes(1.0)
    for episode in episodes:
        episode.audio_path.parent.mkdir(parents=True, exist_ok=True)
        episode.audio_path.write_bytes(audio)


def override_item_templates(config: ShowConfig, variant: int) -> None:
    """Edited copies of the built-in item templates: every item's bytes change per variant."""
    config.paths.templates.mkdir(parents=True, exist_ok=True)
    for name in ITEM_TEMPLATES:
        builtin = files("acbatch").joinpath("templates", name).read_text(encoding="utf-8")
        closing = "</item>" if name.startswith("feed") else "</article>"
        edited = builtin.replace(closing, f"<!-- variant {variant} -->\n{closing}")
        (config.paths.templates / name).write_text(edited, encoding="utf-8")


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
        write_untagged_mp3s(config, episodes)
    if scenario == "one":
        episodes[0] = replace(episodes[0], title=f"Changed title {repetition}")
    if scenario == "jinja":
        override_item_templates(config, repetition)
    else:
        shutil.rmtree(config.paths.templates, ignore_errors=True)
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
    for repetition in range(args.repeat):
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
    print(f"{args.episodes} episodes, {args.turns} turns each; median of {args.repeat} runs")
    try:
        chosen = [scenario for scenario in SCENARIOS if scenario in args.only.split(",")]
        figures = {
            scenario: report_line(scenario, measure(args, root, scenario)) for scenario in chosen
        }
        feed = root / "show" / "output" / "feed.xml"
        site = root / "show" / "output" / "index.html"
        sizes = f"feed.xml {feed.stat().st_size / 1e6:.1f} MB"
        print(f"{sizes}, index.html {site.stat().st_size / 1e6:.1f} MB")
        for scenario in ("unchanged", "one", "every", "jinja"):
            if scenario not in figures:
                continue
            wall, rss = figures[scenario]
            verdict = "OK" if wall < TARGET_SECONDS and rss < TARGET_MIB else "MISSES TARGET"
            print(
                f"{SCENARIOS[scenario]}: {wall:.2f} s, {rss:.0f} MiB "
                f"(target {TARGET_SECONDS:.0f} s, {TARGET_MIB:.0f} MiB) {verdict}"
            )
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
