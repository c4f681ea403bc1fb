"""Benchmark: what polling costs, and how late the runner notices a finished task.

    .venv/bin/python bench/bench_polling.py
    .venv/bin/python bench/bench_polling.py --latencies 0.5 2 8 --rate-limit 20

For each task latency, a batch of episodes runs through a sandbox in its own process
(`acbatch sandbox --no-speech --rate-limit R`, script and audio tasks both taking L seconds).
The runner is the real one with the project's default polling settings; its client records
when every request left and its answer arrived. Per task:

- polls: status calls made; the minimum is 1 (one call after the task is done);
- lateness: when the first `success` answer arrived, minus when the task became ready
  (its create was sent + L; the sandbox marks it ready L seconds after receiving the create).

Targets: polls per task <= 4, completion noticed within 25% of L (or 0.5 s, whichever is
larger), and no 101003 although polls alone never approach the rate limit.

The model starts knowing nothing (a fresh show, no saved task times): the first tasks are
polled from an eighth of `api.polling.initial` (2 s by default) on, every 20 % of their age, and
later tasks aim inside the bounds the finished ones set (acbatch/runner/polling.py).
Tasks created before the runner had seen a task of their kind both waiting and then done are
"learning"; those created after are "steady". Polls are judged over all tasks, lateness over the
steady ones; the learning tasks' lateness is printed beside them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    BENCH_KEY,
    SandboxProcess,
    heading,
    load_valid_project,
    machine_note,
    median,
    percentile,
    responses,
    verdict,
    write_show,
)

from acbatch import codes
from acbatch.api import errors as api_errors
from acbatch.api.client import PodcastClient

POLLS_TARGET = 4.0
LATENESS_SHARE = 0.25
LATENESS_FLOOR = 0.5
# (task latency s, jobs, episodes): jobs keep the create rate well under the rate limit, so any
# 101003 would come from polling; episodes give a few waves after the first.
BATCHES = {0.5: (2, 16), 2.0: (4, 16), 8.0: (4, 8)}


@dataclass
class Call:
    endpoint: str
    global_id: str | None
    sent: float
    received: float
    status: str | None
    error: str | None


class TimedClient(PodcastClient):
    """The real client, noting when each request left and when its answer arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[Call] = []

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        sent = time.monotonic()
        is_create = endpoint in codes.CREATE_ENDPOINTS
        try:
            data = super()._call(endpoint, body)
        except api_errors.ApiError as exc:
            gid = None if is_create else body.get("global_id")
            self.calls.append(Call(endpoint, gid, sent, time.monotonic(), None, type(exc).__name__))
            raise
        gid = data.get("global_id") if is_create else body.get("global_id")
        self.calls.append(Call(endpoint, gid, sent, time.monotonic(), data.get("status"), None))
        return data


@dataclass
class TaskTiming:
    kind: str
    created_sent: float
    polls: list[Call] = field(default_factory=list)

    def first_success(self) -> Call | None:
        return next((c for c in self.polls if c.status == codes.STATUS_SUCCESS), None)


@dataclass(frozen=True)
class BatchResult:
    latency: float
    jobs: int
    episodes: int
    wall: float
    tasks: list[TaskTiming]
    steady: list[TaskTiming]
    rate_refusals: int
    peak_polls_per_second: int
    peak_requests_per_second: int
    server_late: int


def task_timings(calls: list[Call]) -> dict[str, TaskTiming]:
    tasks: dict[str, TaskTiming] = {}
    for call in calls:
        if call.endpoint in codes.CREATE_ENDPOINTS and call.global_id and call.error is None:
            kind = "script" if call.endpoint == codes.SCRIPT_CREATE else "audio"
            tasks[call.global_id] = TaskTiming(kind, call.sent)
    for call in calls:
        if call.endpoint in (codes.SCRIPT_GET, codes.AUDIO_GET) and call.global_id in tasks:
            tasks[call.global_id].polls.append(call)
    return tasks


def peak_per_second(moments: list[float]) -> int:
    """The most requests in any one-second window (the sandbox's rate window)."""
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_batch(latency: float, jobs: int, episodes: int, rate_limit: int, root: Path) -> BatchResult:
    from acbatch.runner.batch import load_catalog
    from acbatch.runner.engine import Runner, RunOptions
    from acbatch.runner.plan import SANDBOX_SERVICE
    from acbatch.runner.state import StateStore

    config = write_show(root, episodes, api={"jobs": jobs})
    project = load_valid_project(config)
    api = project.config.api
    clients: list[TimedClient] = []
    with SandboxProcess(
        script_delay=latency, audio_delay=latency, rate_limit=rate_limit
    ) as sandbox:

        def client() -> TimedClient:
            made = TimedClient(BENCH_KEY, sandbox.url)
            clients.append(made)
            return made

        # The options `acbatch run` derives from acbatch.yaml (session.run_project).
        options = RunOptions(
            jobs=jobs,
            max_attempts=api.max_attempts,
            retries=api.retries,
            poll_initial=api.polling.initial,
            poll_max_interval=api.polling.max_interval,
            deadline=api.polling.deadline,
            download_max_bytes=api.download_max_bytes,
            download_seconds=api.timeouts.download,
            timeouts=(api.timeouts.connect, api.timeouts.read),
            seed=7,
        )
        runner = Runner(
            project,
            StateStore(project.config.paths.state),
            client,
            options,
            service=SANDBOX_SERVICE,
            catalog=load_catalog(project),
        )
        started = time.perf_counter()
        summary = runner.run(project.episodes)
        wall = time.perf_counter() - started
        stats = sandbox.stats()
    if summary.exit_code != 0:
        raise RuntimeError(f"the batch did not finish: {summary.to_json()['outcomes']}")
    calls = [call for made in clients for call in made.calls]
    tasks = task_timings(calls)
    bracketed: dict[str, float] = defaultdict(lambda: float("inf"))
    for task in tasks.values():
        success = task.first_success()
        if success is not None and success is not task.polls[0]:
            bracketed[task.kind] = min(bracketed[task.kind], success.received)
    steady = [t for t in tasks.values() if t.created_sent > bracketed[t.kind]]
    server_late = sum(
        1
        for t in tasks.values()
        for c in t.polls
        if c.status == codes.STATUS_WAITING and c.sent > t.created_sent + latency + 0.05
    )
    polls = [c.sent for c in calls if c.endpoint in (codes.SCRIPT_GET, codes.AUDIO_GET)]
    return BatchResult(
        latency,
        jobs,
        episodes,
        wall,
        list(tasks.values()),
        steady,
        responses(stats, codes.RATE_LIMITED),
        peak_per_second(polls),
        peak_per_second([c.sent for c in calls]),
        server_late,
    )


def lateness(task: TaskTiming, latency: float) -> float:
    success = task.first_success()
    assert success is not None
    return success.received - (task.created_sent + latency)


def describe(label: str, tasks: list[TaskTiming], latency: float) -> tuple[float, float]:
    if not tasks:
        print(f"  {label:<22}    0 tasks")
        return 0.0, 0.0
    polls = [len(t.polls) for t in tasks]
    late = [lateness(t, latency) for t in tasks]
    mean_polls = sum(polls) / len(polls)
    print(
        f"  {label:<22} {len(tasks):4d} tasks  polls/task mean {mean_polls:4.2f} "
        f"max {max(polls):2d}   late median {median(late):5.2f} s  p90 "
        f"{percentile(late, 0.9):5.2f} s  max {max(late):5.2f} s",
        flush=True,
    )
    return mean_polls, max(late)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latencies", type=float, nargs="+", default=sorted(BATCHES))
    parser.add_argument("--rate-limit", type=int, default=20, help="sandbox requests/s per key")
    parser.add_argument("--repeats", type=int, default=1, help="batches per latency")
    args = parser.parse_args(argv)

    print(machine_note())
    print(
        f"polling against a sandbox with --rate-limit {args.rate_limit}; default polling "
        "settings (api.polling.initial 2 s); targets: polls/task <= 4, lateness <= "
        "max(25% of L, 0.5 s), zero 101003"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="acbatch-bench-") as scratch:
        for latency in args.latencies:
            jobs, episodes = BATCHES.get(latency, (8, 16))
            bound = max(LATENESS_SHARE * latency, LATENESS_FLOOR)
            heading(f"L = {latency:g} s: {episodes} episodes, jobs {jobs}, bound {bound:.2f} s")
            results = [
                run_batch(
                    latency, jobs, episodes, args.rate_limit, Path(scratch) / f"{latency}-{i}"
                )
                for i in range(args.repeats)
            ]
            all_tasks = [t for r in results for t in r.tasks]
            steady = [t for r in results for t in r.steady]
            steady_ids = {id(t) for t in steady}
            learning = [t for t in all_tasks if id(t) not in steady_ids]
            mean_polls, _ = describe("all tasks", all_tasks, latency)
            describe("learning", learning, latency)
            _, steady_late = describe("steady", steady, latency)
            refusals = sum(r.rate_refusals for r in results)
            print(
                f"  wall {median(r.wall for r in results):.1f} s; peak 1-s window: "
                f"{max(r.peak_polls_per_second for r in results)} polls, "
                f"{max(r.peak_requests_per_second for r in results)} requests "
                f"(limit {args.rate_limit}); 101003 answers: {refusals}; "
                f"polls that found a task waiting past its L: "
                f"{sum(r.server_late for r in results)}"
            )
            polls_ok = mean_polls <= POLLS_TARGET
            late_ok = bool(steady) and steady_late <= bound
            print(
                f"  polls/task {mean_polls:.2f} <= {POLLS_TARGET:g}: {verdict(polls_ok)}; "
                f"steady lateness {steady_late:.2f} s <= {bound:.2f} s: {verdict(late_ok)}; "
                f"zero 101003: {verdict(refusals == 0)}"
            )
            ok &= polls_ok and late_ok and refusals == 0
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
