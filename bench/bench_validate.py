"""Benchmark: load and validate a project of 10,000 episode specs.

    .venv/bin/python bench/bench_validate.py [--specs N] [--keep DIR]

Prints the wall time and peak RSS of `load_project` (reading, schema validation, defaults,
normalisation and cross-file checks). The target is under 5 s for 10,000 specs on a 2-core
machine.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from acbatch.project.loader import load_project
from acbatch.voices import Voice, VoiceCatalog

TARGET_SECONDS = 5.0

CONFIG = """\
show:
  title: Benchmark Show
  description: Ten thousand episodes of generated text.
  author: acbatch
  language: en
  base_url: http://localhost:8000/
defaults:
  language: en
  style: interview
  duration: 2
  speakers: [ava, leo]
api:
  jobs: 4
"""

WORDS = [
    "sleep",
    "tide",
    "river",
    "garden",
    "bicycle",
    "compost",
    "data",
    "table",
    "science",
    "city",
    "tea",
    "quiet",
    "morning",
    "network",
    "lane",
    "kerb",
    "microbe",
    "heat",
    "seed",
    "sponge",
    "habit",
    "column",
    "value",
    "year",
]


def spec_text(index: int, rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(60))
    season, episode = divmod(index, 1000)
    lines = [
        "# yaml-language-server: $schema=../schemas/episode.schema.json",
        f"title: Episode {index}",
        "source:",
    ]
    if index % 10 == 0:
        lines.append(f"  file: sources/note-{index % 50}.md")
    elif index % 10 == 1:
        lines.append(f"  url: https://example.com/articles/{index}")
    else:
        lines += ["  text: |", f"    {body}"]
    if index % 3 == 0:
        lines.append(f"style: {rng.choice(['educational', 'deep-dive', 'storytelling'])}")
    if index % 4 == 0:
        lines.append("speakers: [ava, leo, nora]")
    if index % 7 == 0:
        lines += ["overrides:", "  replace:", "    - {find: acbatch, replace: A C batch}"]
    lines += [
        "publish:",
        f"  date: 2026-{1 + index % 12:02d}-{1 + index % 28:02d}",
        f"  season: {season + 1}",
        f"  episode: {episode + 1}",
        "  keywords: [bench, generated]",
    ]
    return "\n".join(lines) + "\n"


def make_project(root: Path, count: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    specs = root / "specs"
    (specs / "sources").mkdir(parents=True)
    (root / "acbatch.yaml").write_text(CONFIG, encoding="utf-8")
    voices = [
        Voice(16098, "ava", "Ava", "en", 2),
        Voice(16093, "leo", "Leo", "en", 1),
        Voice(16101, "nora", "Nora", "en", 2),
    ]
    (root / "voices.json").write_text(json.dumps(VoiceCatalog(voices).to_document()))
    for note in range(50):
        (specs / "sources" / f"note-{note}.md").write_text(f"# Note {note}\n\nSome text.\n")
    for index in range(count):
        (specs / f"episode-{index:05d}.yaml").write_text(spec_text(index, rng), encoding="utf-8")
    return root / "acbatch.yaml"


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="build the project here")
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="acbatch-bench-"))
    try:
        config = make_project(workdir, args.specs)
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        cpu_started = time.process_time()
        project = load_project(config)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        rss_after = peak_rss_mib()
        print(f"specs:     {args.specs}")
        print(f"episodes:  {len(project.episodes)}")
        print(f"problems:  {len(project.problems)}")
        print(f"wall time: {elapsed:.2f} s (target < {TARGET_SECONDS:.0f} s; CPU {cpu:.2f} s)")
        print(f"peak RSS:  {rss_after:.0f} MiB (before loading: {rss_before:.0f} MiB)")
        if project.problems:
            for problem in project.problems[:5]:
                print(f"  {problem}")
            return 1
        return 0 if elapsed < TARGET_SECONDS else 2
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
