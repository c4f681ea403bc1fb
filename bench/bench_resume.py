"""Benchmark: `acbatch run` on a show whose episodes are all finished.

    .venv/bin/python bench/bench_resume.py
    .venv/bin/python bench/bench_resume.py --episodes 1000 --repeats 3 --keep /tmp/resume-show

Builds the show honestly: N episodes run once through a sandbox in its own process (no speech,
50 ms tasks), audio downloaded and the feed rendered. Then the real CLI runs again, as a
subprocess, against the same sandbox: it must send no API request (checked in the sandbox's
counters). Printed: wall time and the child's own peak RSS, with and without `--no-render`
(a plain `run` also re-renders notes and the feed, which the render benchmark covers), beside
`acbatch --version` for the interpreter's floor. Targets: under 1.5 s and under 150 MB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    ACBATCH,
    BENCH_KEY,
    ChildRun,
    SandboxProcess,
    api_requests,
    heading,
    machine_note,
    median,
    run_child,
    run_in_process,
    verdict,
    write_show,
)

SECONDS_TARGET = 1.5
RSS_TARGET_MB = 150.0
BUILD_JOBS = 32
TASK_SECONDS = 0.05


def build(root: Path, episodes: int, sandbox: SandboxProcess) -> float:
    config = write_show(
        root, episodes, api={"jobs": BUILD_JOBS, "polling": {"initial": TASK_SECONDS * 2}}
    )
    started = time.perf_counter()
    result = run_in_process(config, sandbox.url, jobs=BUILD_JOBS, render=True)
    seconds = time.perf_counter() - started
    done = sum(1 for r in result.summary.results if r.outcome.value == "done")
    if done != episodes:
        raise RuntimeError(f"only {done} of {episodes} episodes finished while building")
    return seconds


def timed_runs(
    label: str, args: list[str], root: Path, env: dict[str, str], repeats: int
) -> list[ChildRun]:
    runs = [run_child([*ACBATCH, *args], cwd=root, env=env) for _ in range(repeats)]
    for run in runs:
        if run.returncode != 0:
            raise RuntimeError(f"`acbatch {' '.join(args)}` exited {run.returncode}: {run.stderr}")
    seconds = median(r.seconds for r in runs)
    rss = median(r.peak_rss_mb for r in runs)
    print(
        f"  {label:<28} {seconds:6.2f} s  peak RSS {rss:6.1f} MB  "
        f"(runs: {', '.join(f'{r.seconds:.2f}' for r in runs)})",
        flush=True,
    )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="build the show here and keep it")
    args = parser.parse_args(argv)

    print(machine_note())
    root = args.keep or Path(tempfile.mkdtemp(prefix="acbatch-bench-"))
    try:
        with SandboxProcess(script_delay=TASK_SECONDS, audio_delay=TASK_SECONDS) as sandbox:
            heading(f"building {args.episodes} finished episodes through the sandbox")
            seconds = build(root, args.episodes, sandbox)
            print(f"  {args.episodes} episodes run, downloaded and rendered in {seconds:.1f} s")
            env = {"AUDIOCLEANER_API_KEY": BENCH_KEY, "AUDIOCLEANER_API_BASE": sandbox.url}
            before = api_requests(sandbox.stats())

            heading(f"`acbatch run` again, median of {args.repeats}")
            timed_runs("acbatch --version", ["--version"], root, env, args.repeats)
            bare = timed_runs(
                "acbatch run --no-render", ["run", "--no-render"], root, env, args.repeats
            )
            full = timed_runs("acbatch run", ["run"], root, env, args.repeats)
            sent = api_requests(sandbox.stats()) - before
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    heading("summary")
    ok = sent == 0
    print(f"  API requests during the resumed runs: {sent} (must be 0: {verdict(sent == 0)})")
    for label, runs in (("run --no-render", bare), ("run (with render)", full)):
        seconds = median(r.seconds for r in runs)
        rss = median(r.peak_rss_mb for r in runs)
        fast, small = seconds < SECONDS_TARGET, rss < RSS_TARGET_MB
        ok &= fast and small
        print(
            f"  {label:<18} {seconds:.2f} s < {SECONDS_TARGET} s: {verdict(fast)}; "
            f"{rss:.0f} MB < {RSS_TARGET_MB:.0f} MB: {verdict(small)}"
        )
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
