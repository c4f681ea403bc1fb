"""Benchmark: `acbatch validate` and `acbatch plan` on large shows, and memory per episode.

    .venv/bin/python bench/bench_scale.py
    .venv/bin/python bench/bench_scale.py --sizes 2500 5000 10000 --repeats 3

Generates shows of 2,500, 5,000 and 10,000 plain-text episode specs and runs the real CLI on
each as a subprocess, noting wall time and the child's own peak RSS (`plan` finds no state, so
every episode is planned as new). Each round starts cold: the cache folder (.acbatch/) is
removed, then `validate` checks every spec (filling the spec cache) and `plan` follows, as in
a fresh CI checkout. Then, for information: `validate` again (warm), and `validate` after a
comment was added to acbatch.yaml (which must not empty the spec cache). Targets at 10,000
specs: cold validate + plan under 5 s, peak RSS under 300 MB; and memory growing at most
linearly with the number of episodes (the per-episode slope between the two larger sizes no
steeper than between the two smaller ones, give or take noise).

Rendering the feed of a 10,000-episode show is measured by bench/bench_render.py
(`--with-render` runs it after these figures).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import (
    ACBATCH,
    REPO,
    ChildRun,
    heading,
    machine_note,
    median,
    run_child,
    verdict,
    write_show,
)

SECONDS_TARGET = 5.0
RSS_TARGET_MB = 300.0
SLOPE_TOLERANCE = 1.25
"""How much steeper the upper slope may be than the lower one before growth counts as faster
than linear (RSS is measured in pages and includes allocator slack)."""


STEPS = ("validate", "plan", "validate warm", "validate after a comment edit")
"""One round, in order: the first two are the cold pair the target is about."""


@dataclass(frozen=True)
class Sized:
    episodes: int
    runs: dict[str, list[ChildRun]]

    def seconds(self, step: str) -> float:
        return median(r.seconds for r in self.runs[step])

    def rss(self, step: str) -> float:
        return median(r.peak_rss_mb for r in self.runs[step])


def measure(root: Path, episodes: int, repeats: int) -> Sized:
    config = write_show(root, episodes)
    runs: dict[str, list[ChildRun]] = {step: [] for step in STEPS}
    for round_number in range(repeats):
        shutil.rmtree(root / ".acbatch", ignore_errors=True)
        for step in STEPS:
            if step == "validate after a comment edit":
                with config.open("a", encoding="utf-8") as handle:
                    handle.write(f"# edited in round {round_number}\n")
            command = step.split()[0]
            # The generated show uses the sandbox's demo voices: checked as for a sandbox run.
            run = run_child([*ACBATCH, command, "--sandbox"], cwd=root)
            if run.returncode != 0:
                raise RuntimeError(
                    f"`acbatch {command}` exited {run.returncode}: {run.stderr[-500:]}"
                )
            runs[step].append(run)
    return Sized(episodes, runs)


def slope_kb(low: Sized, high: Sized, command: str) -> float:
    """Peak RSS growth per episode between two sizes, in kB."""
    return (high.rss(command) - low.rss(command)) * 1000 / (high.episodes - low.episodes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=3, default=[2500, 5000, 10_000])
    parser.add_argument("--repeats", type=int, default=3, help="rounds at the largest size")
    parser.add_argument("--with-render", action="store_true", help="then run bench_render.py")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)

    print(machine_note())
    workdir = Path(tempfile.mkdtemp(prefix="acbatch-bench-"))
    try:
        floor = run_child([*ACBATCH, "--version"])
        print(f"acbatch --version: {floor.seconds:.2f} s, peak RSS {floor.peak_rss_mb:.0f} MB")
        heading("cold validate, then plan, then warm validate and after a comment edit")
        print(f"  {'specs':>6}  " + "  ".join(f"{step:>16.16}" for step in STEPS))
        results = []
        for size in sizes:
            repeats = args.repeats if size == sizes[-1] else 1
            sized = measure(workdir / str(size), size, repeats)
            results.append(sized)
            figures = [f"{sized.seconds(s):5.2f} s {sized.rss(s):5.0f} MB" for s in STEPS]
            print(f"  {size:>6}  " + "  ".join(figures), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    heading("memory per episode (peak RSS slope)")
    linear = True
    for command in ("validate", "plan"):
        lower = slope_kb(results[0], results[1], command)
        upper = slope_kb(results[1], results[2], command)
        overall = slope_kb(results[0], results[2], command)
        ok = upper <= max(lower, 0.0) * SLOPE_TOLERANCE + 1.0
        linear &= ok
        print(
            f"  {command:<8} {lower:5.1f} kB/episode ({sizes[0]}->{sizes[1]}), "
            f"{upper:5.1f} kB/episode ({sizes[1]}->{sizes[2]}), {overall:5.1f} overall: "
            f"at most linear: {verdict(ok)}"
        )

    heading(f"summary at {sizes[-1]} specs (median of {args.repeats})")
    largest = results[-1]
    total = largest.seconds("validate") + largest.seconds("plan")
    peak = max(largest.rss("validate"), largest.rss("plan"))
    fast, small = total < SECONDS_TARGET, peak < RSS_TARGET_MB
    print(f"  validate + plan, cold {total:.2f} s < {SECONDS_TARGET:.0f} s: {verdict(fast)}")
    print(f"  peak RSS {peak:.0f} MB < {RSS_TARGET_MB:.0f} MB: {verdict(small)}")
    warm, edited = largest.seconds(STEPS[2]), largest.seconds(STEPS[3])
    print(f"  validate warm {warm:.2f} s; after a comment edit of acbatch.yaml {edited:.2f} s")
    print("  render of 10,000 episodes: see bench/bench_render.py")
    if args.with_render:
        heading("bench/bench_render.py")
        subprocess.run([sys.executable, str(REPO / "bench" / "bench_render.py")], check=False)
    return 0 if fast and small and linear else 2


if __name__ == "__main__":
    sys.exit(main())
