"""With the API's concurrency limit told (`--jobs C`), a run never has more than C tasks in
flight: a strict server that refuses the (C+1)-th unfinished task with 101004 never has to.

Every worker holds a slot from its create until its task is seen finished; a finished script
task hands its slot to the episode's audio create. Spare workers wait for freed slots, so a
slot given back for a moment (between a create and the polling of its task) would be taken by
one of them for a create too many.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.engine import Outcome
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble

KEY = "double-key-4242"


@pytest.fixture
def busy_interpreter() -> Iterator[None]:
    """Threads switch after every few bytecodes (instead of every 5 ms): a moment in which a
    slot is free is one in which a waiting worker runs."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_told_limit_is_never_exceeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int, busy_interpreter: None
) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)
    episodes = 6 * concurrency
    api = {"jobs": concurrency, "polling": {"initial": 0.05, "max_interval": 0.2}}
    config = write_show(
        tmp_path, {f"ep-{n}": text_episode(n) for n in range(1, episodes + 1)}, api=api
    )
    project = load_project(config)
    with StrictDouble(
        script_latency=0.15, audio_latency=0.15, concurrency=concurrency, audio_seconds=0.5
    ) as double:
        result = run_project(
            project, RunRequest(base_url=double.url, seed=7, poll_initial=0.05, render=False)
        )
        assert [r.outcome for r in result.summary.results] == [Outcome.DONE] * episodes
        assert double.refusals[101004] == 0
        assert double.create_calls == {"script": episodes, "audio": episodes}
        assert result.summary.concurrency_refusals == 0


def test_a_told_limit_is_used_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No slot stands idle for long: with C tasks always wanted, the server sees C in flight
    for most of the run."""
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)
    concurrency, episodes, latency = 4, 16, 0.3
    api = {"jobs": concurrency, "polling": {"initial": 0.05, "max_interval": 0.2}}
    config = write_show(
        tmp_path, {f"ep-{n}": text_episode(n) for n in range(1, episodes + 1)}, api=api
    )
    with StrictDouble(
        script_latency=latency,
        audio_latency=latency,
        concurrency=concurrency,
        audio_seconds=0.5,
    ) as double:
        result = run_project(
            load_project(config),
            RunRequest(base_url=double.url, seed=7, poll_initial=0.05, render=False),
        )
        assert result.summary.exit_code == 0
        tasks: list[Any] = sorted(double.tasks.values(), key=lambda t: t.created)
        busy = sum(t.latency for t in tasks)
        span = max(t.created + t.latency for t in tasks) - tasks[0].created
        # The slots were busy for at least 70 % of the run's span (ideal: 100 %).
        assert busy / (concurrency * span) >= 0.7, (busy, span)
