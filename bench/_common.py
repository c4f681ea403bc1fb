"""Shared parts of the runner benchmarks: a sandbox in its own process, generated shows, and
child processes timed with their own peak memory.

The sandbox runs as `acbatch sandbox` in a separate process so that its HTTP threads do not share
the runner's interpreter lock: the figures then describe the runner, not the two fighting.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the benchmarks share the tests' sample episodes
ACBATCH = (sys.executable, "-m", "acbatch")
BENCH_KEY = "bench-key"
SANDBOX_START_TIMEOUT = 30.0


# -- the sandbox in its own process ---------------------------------------------------------------


class SandboxProcess:
    """`acbatch sandbox --port 0 --no-speech ...`; its URL is the first line it prints."""

    def __init__(
        self,
        *,
        script_delay: float,
        audio_delay: float,
        concurrency: int | None = None,
        rate_limit: int | None = None,
    ) -> None:
        args = [
            *ACBATCH,
            "sandbox",
            "--port",
            "0",
            "--no-speech",
            "--script-delay",
            str(script_delay),
            "--audio-delay",
            str(audio_delay),
        ]
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        if rate_limit is not None:
            args += ["--rate-limit", str(rate_limit)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http"):
            self.close()
            raise RuntimeError(f"the sandbox did not start (printed {line!r})")
        self.url = line
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/sandbox/stats", timeout=10) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def api_requests(stats: dict[str, Any]) -> int:
    """Requests to the four API endpoints (audio downloads are not API requests)."""
    return sum(int(n) for n in stats.get("requests", {}).values())


def responses(stats: dict[str, Any], code: int) -> int:
    return int(stats.get("responses", {}).get(str(code), 0))


# -- generated shows -------------------------------------------------------------------------------


def episode_id(number: int) -> str:
    return f"ep-{number:05d}"


def episode_spec(number: int) -> str:
    """A plain-text episode spec (JSON strings are YAML; formatting by hand keeps 10,000 fast)."""
    season, index = divmod(number, 1000)
    text = (
        f"Episode {number} is about tide pools and the animals in them. Sea stars cling to "
        f"rock number {number}. Crabs hide when the water goes out. Anemones wave their arms "
        "to catch food."
    )
    return (
        f"title: {json.dumps(f'Episode {number}: tide pools')}\n"
        f"source:\n  text: {json.dumps(text)}\n"
        "publish:\n"
        f"  date: 2026-{1 + number % 12:02d}-{1 + number % 28:02d}\n"
        f"  season: {season + 1}\n"
        f"  episode: {index + 1}\n"
    )


def write_show(root: Path, count: int, *, api: dict[str, Any] | None = None) -> Path:
    """A valid show of `count` plain-text episodes in `root`; returns the acbatch.yaml path."""
    from acbatch.sandbox.catalog import sandbox_catalog
    from tests.samples import png_bytes

    root.mkdir(parents=True, exist_ok=True)
    config = {
        "show": {
            "title": "Benchmark Show",
            "description": "Generated episodes for the runner benchmarks.",
            "author": "acbatch",
            "owner": {"name": "acbatch", "email": "bench@example.com"},
            "language": "en",
            "categories": ["Technology"],
            "base_url": "https://podcast.example.com/",
            "image": "cover.png",
        },
        "defaults": {
            "style": "interview",
            "duration": 1,
            "language": "en",
            "speakers": ["ava", "leo"],
        },
        "api": api or {"jobs": 4},
    }
    (root / "acbatch.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "cover.png").write_bytes(png_bytes(1400, (20, 90, 140)))
    (root / "voices.json").write_text(json.dumps(sandbox_catalog().to_document()), encoding="utf-8")
    specs = root / "specs"
    specs.mkdir(exist_ok=True)
    for number in range(1, count + 1):
        (specs / f"{episode_id(number)}.yaml").write_text(episode_spec(number), encoding="utf-8")
    return root / "acbatch.yaml"


def load_valid_project(config: Path) -> Any:
    from acbatch.project.loader import load_project

    project = load_project(config)
    if project.errors:
        raise RuntimeError(f"generated show is invalid: {project.errors[0]}")
    return project


def run_in_process(config: Path, base_url: str, *, jobs: int, render: bool = False) -> Any:
    """`acbatch run` in this process against `base_url`, as tests/test_runner.py drives it."""
    from acbatch.runner.batch import RunRequest, run_project

    os.environ["AUDIOCLEANER_API_KEY"] = BENCH_KEY
    project = load_valid_project(config)
    return run_project(project, RunRequest(base_url=base_url, jobs=jobs, render=render, seed=7))


# -- child processes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


# Linux carries a process's peak RSS over into a child it forks, so a child started from this
# (large) process would report at least this process's peak. A small launcher forks the command
# instead and reports its wall time, peak RSS and exit status to the file named first.
_LAUNCHER = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(command[0], command)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, "w") as handle:
    handle.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(
    args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> ChildRun:
    """Run a command: its wall time and its own peak RSS (see `_LAUNCHER`)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as report,
    ):
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, report.name, *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=err,
            check=True,
        )
        seconds, maxrss, returncode = report.read().split()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    # Linux reports KiB, macOS bytes; the targets are in MB (10^6 bytes).
    peak_bytes = int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024
    return ChildRun(
        float(seconds),
        peak_bytes / 1e6,
        int(returncode),
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
    )


# -- reporting -------------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return float(ordered[index])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine_note() -> str:
    """Cores and load: other work on the machine slows every figure."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min) at start"


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)
