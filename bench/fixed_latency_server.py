"""A strict fixed-latency API server for the throughput benchmark (not acbatch's sandbox).

It is the independent API double of the tests (tests/double.py: written from the API reference
alone; a task answers `waiting` until exactly L seconds after its create; at most C tasks
unfinished, 101004 beyond), with what a benchmark needs on top:

- a log of every status call: the task, when the server received it, what it answered;
- a stall: the answer to one chosen status call held back for `stall_seconds` (a stuck answer);
- Nagle's algorithm off on its sockets (see `start`).

It runs in the benchmark's own process, on threads; the measured `acbatch run` is a separate
process, so the two do not share an interpreter lock.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.double import StrictDouble, catalog_document

__all__ = ["FixedLatencyServer", "StatusCall", "catalog_document"]


@dataclass(frozen=True)
class StatusCall:
    global_id: str
    step: str
    received: float
    done: bool


@dataclass
class FixedLatencyServer(StrictDouble):
    stall_after: float | None = None
    """Seconds after the first create: the first status call after then that finds its task
    done has its answer held back for `stall_seconds`."""
    stall_seconds: float = 30.0
    nagle: bool = False
    """Keep Nagle's algorithm on the server's sockets, as the tests' double does."""
    status_log: list[StatusCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stalled: StatusCall | None = None
        self._log_lock = threading.Lock()

    def _status(self, step: str, body: dict[str, Any], now: float) -> tuple[int, bytes, str]:
        answer = super()._status(step, body, now)
        global_id = body.get("global_id")
        task = self.tasks.get(global_id) if isinstance(global_id, str) else None
        if task is None:
            return answer
        call = StatusCall(task.global_id, step, now, self._finished(task, now))
        stall = False
        with self._log_lock:
            self.status_log.append(call)
            first = self.first_create()
            if (
                self.stall_after is not None
                and self.stalled is None
                and call.done
                and first is not None
                and now - first >= self.stall_after
            ):
                self.stalled = call
                stall = True
        if stall:
            time.sleep(self.stall_seconds)
        return answer

    def start(self) -> FixedLatencyServer:
        super().start()
        assert self._httpd is not None
        # A poll the runner gave up on finds its connection closed: expected, not news.
        self._httpd.handle_error = lambda *_args: None  # type: ignore[method-assign]
        # The double writes an answer's head and body separately; with Nagle's algorithm on,
        # the body then waits for the client's delayed ACK, up to 40 ms per answer on Linux.
        # A production web server does not add that, so neither does this stand-in (unless
        # `nagle` is set, to measure what it costs).
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = not self.nagle  # type: ignore[attr-defined]
        return self

    def first_create(self) -> float | None:
        times = [at for step in self.creates for at, _ in self.creates[step]]
        return min(times) if times else None

    # -- what the benchmark reads ------------------------------------------------------------------

    def task_count(self) -> int:
        return len(self.tasks)

    def polls(self) -> int:
        return len(self.status_log)

    def deciding_polls(self) -> dict[str, StatusCall]:
        """Per task, the first status call that found it done."""
        first: dict[str, StatusCall] = {}
        for call in self.status_log:
            if call.done and call.global_id not in first:
                first[call.global_id] = call
        return first

    def lateness(self) -> list[tuple[float, str, float]]:
        """(create time, step, deciding poll's receipt - (create + L)) per finished task."""
        rows = []
        for global_id, call in self.deciding_polls().items():
            task = self.tasks[global_id]
            rows.append((task.created, task.step, call.received - task.created - task.latency))
        return sorted(rows)
