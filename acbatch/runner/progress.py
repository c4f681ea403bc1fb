"""Run progress: a live line on a terminal, plain timestamped lines in CI or when piped.

Each line is printed once: how an episode ended (failed, awaiting review, uncertain...) is
said by the run's summary (commands/run.py), with its message, so progress only counts those
endings. It prints the episodes finished as they are (`done`), the paid requests as they are
sent, and with -v every step.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from acbatch.constants import TIMESTAMP_FORMAT
from acbatch.redact import redact
from acbatch.runner.engine import Outcome

FINAL = frozenset(outcome.value for outcome in Outcome)
"""Every way an episode's turn in a run can end: each selected episode reports exactly one, so
the live counter reaches N/N."""
SUMMARISED = FINAL - {Outcome.DONE.value}
"""Endings the run's summary lists one per line with their message: never printed here.
(A state change to `failed` and the episode's `failed` outcome are both reported as events.)"""


def is_live_terminal(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class Progress:
    """Reports a run's events; `total` is the number of episodes the run touches (selected,
    not drafts, in this shard), so the live counter ends at total/total."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
        verbosity: int = 0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = is_live_terminal(self.stream) if live is None else live
        self.total = total
        self.verbosity = verbosity
        self.finished: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, episode_id: str, event: str, message: str) -> None:
        message = redact(message)
        with self._lock:
            if event in FINAL:
                self.finished[episode_id] = event
            if self.live:
                self._live()
            elif (
                self.verbosity >= 0
                and event not in SUMMARISED
                and (event in FINAL or self.verbosity > 0 or event.endswith("requested"))
            ):
                stamp = time.strftime(TIMESTAMP_FORMAT, time.gmtime())
                detail = f": {message}" if message else ""
                self.stream.write(f"{stamp} {episode_id} {event}{detail}\n")
                self.stream.flush()

    def _live(self) -> None:
        counts: dict[str, int] = {}
        for outcome in self.finished.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        parts = [f"{len(self.finished)}/{self.total} finished"]
        parts += [f"{n} {name.replace('_', ' ')}" for name, n in sorted(counts.items())]
        self.stream.write("\r\x1b[K" + " · ".join(parts))
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
