"""One stuck status answer, against the strict double: the runner gives up on it early, says so
at -v, and the rest of the run is still polled just after each task finishes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acbatch.runner.polling import LATENCY_FILE
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble

KEY = "double-key-4242"
LATENCY = 0.5
STALL = 4.0
READ_TIMEOUT = 1.0
"""The project's read timeout; polls give up after min(this, 5 s)."""


@dataclass
class StallingDouble(StrictDouble):
    """Holds back the answer of the first status call that finds a task done after the first
    wave, for `STALL` seconds; logs when each status call arrived and what it found."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.calls: list[tuple[float, str, bool]] = []
        self.stalled: tuple[float, str] | None = None
        self._calls_lock = threading.Lock()

    def start(self) -> StallingDouble:
        super().start()
        assert self._httpd is not None
        self._httpd.handle_error = lambda *_args: None  # type: ignore[method-assign]
        return self

    def _status(self, step: str, body: dict[str, Any], now: float) -> tuple[int, bytes, str]:
        answer = super()._status(step, body, now)
        task = self.tasks.get(str(body.get("global_id")))
        if task is None:
            return answer
        done = self._finished(task, now)
        with self._calls_lock:
            self.calls.append((now, task.global_id, done))
            first = min(at for at, _ in self.creates["script"])
            stall = self.stalled is None and done and now - first > 1.5 * LATENCY
            if stall:
                self.stalled = (now, task.global_id)
        if stall:
            time.sleep(STALL)
        return answer


@pytest.mark.slow
def test_a_stuck_status_answer_is_given_up_and_does_not_slow_later_polls(tmp_path: Path) -> None:
    episodes = 16
    api = {"jobs": 4, "timeouts": {"read": READ_TIMEOUT}, "polling": {"initial": 1.0}}
    write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, episodes + 1)}, api=api)
    double = StallingDouble(
        script_latency=LATENCY, audio_latency=LATENCY, concurrency=4, audio_seconds=1.0
    )
    with double:
        env = {**os.environ, "AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "acbatch", "-C", str(tmp_path), "-v", "run", "--no-render"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert double.created("script") == episodes and double.created("audio") == episodes
    assert double.stalled is not None
    stalled_at, stalled_task = double.stalled

    # Given up after the poll timeout (not the 60 s default read timeout), said at -v, and the
    # task asked again at once.
    assert "poll_retry" in result.stderr and "asking again" in result.stderr
    again = [at for at, task, done in double.calls if task == stalled_task and at > stalled_at]
    assert again and again[0] - stalled_at < READ_TIMEOUT + 0.5
    # The held slot cost about one poll timeout, not the stall.
    ideal = (episodes // 4) * 2 * LATENCY
    assert wall < ideal + STALL + 3.0

    # The stuck answer taught the model nothing wrong: the saved bounds hug the true time.
    saved = json.loads((tmp_path / "state" / LATENCY_FILE).read_text())
    for step in ("script", "audio"):
        upper = min(saved["steps"][step]["upper"])
        assert LATENCY * 0.9 <= upper <= LATENCY * 1.1, (step, saved["steps"][step])

    # Every task created a wave after the stall is polled just after it finishes.
    deciding: dict[str, float] = {}
    for at, task, done in double.calls:
        if done and task not in deciding:
            deciding[task] = at
    later = [
        deciding[task.global_id] - task.created - task.latency
        for task in double.tasks.values()
        if task.created > stalled_at + LATENCY and task.global_id in deciding
    ]
    assert len(later) >= 8
    assert statistics.median(later) <= 0.1 * LATENCY, sorted(later)
    assert len(double.calls) / len(double.tasks) <= 4.0
