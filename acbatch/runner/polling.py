"""When to ask whether a task is done.

Each step (script, audio) keeps a running estimate of how long its tasks take. The first poll
goes out at that estimate; while the task is still waiting the gaps grow geometrically (a
quarter of the time already spent), capped by `max_interval`. Until a task of the kind has been
seen finishing, the first poll waits `initial` seconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from acbatch.spec.model import Polling

MIN_GAP = 0.2
GROWTH = 0.25


@dataclass
class LatencyModel:
    initial: float
    max_interval: float
    estimate: float | None = None
    _lock: threading.Lock = threading.Lock()  # noqa: RUF009 - replaced per instance

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def first_delay(self, already_elapsed: float = 0.0) -> float:
        with self._lock:
            target = self.estimate if self.estimate is not None else self.initial
        return max(0.0, min(self.max_interval, target - already_elapsed))

    def next_delay(self, elapsed: float) -> float:
        return min(self.max_interval, max(MIN_GAP, elapsed * GROWTH))

    def observe(self, seen_done_at: float, last_waiting_at: float | None) -> None:
        """A task was seen done `seen_done_at` s after creation; it was still waiting at
        `last_waiting_at` (None when the first poll already found it done)."""
        if last_waiting_at is None:
            # Done at the first look: it may have finished much earlier, so aim a little earlier.
            sample = seen_done_at * 0.85
        else:
            sample = (last_waiting_at + seen_done_at) / 2
        with self._lock:
            if self.estimate is None:
                self.estimate = sample
            else:
                self.estimate = 0.7 * self.estimate + 0.3 * sample


def latency_models(polling: Polling) -> dict[str, LatencyModel]:
    return {
        step: LatencyModel(initial=polling.initial, max_interval=polling.max_interval)
        for step in ("script", "audio")
    }
