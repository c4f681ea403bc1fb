"""Staying inside the API's limits: an adaptive concurrency limit, a shared rate-limit backoff,
a credit budget, and capped full-jitter backoff for retries."""

from __future__ import annotations

import random
import threading
import time


class AdaptiveLimit:
    """How many tasks may be in flight, learnt from 101004 answers.

    A slot is held from a create until its task finishes. When the service says the key has too
    many tasks in flight, the limit drops to what is in flight now; every task that finishes
    raises it a little again (additive increase), up to the ceiling.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_use = 0
        self.refusals = 0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        with self._cond:
            while self.in_use >= max(1, int(self.limit)):
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(timeout=0.5)
            self.in_use += 1
            return True

    def release(self, finished: bool = True) -> None:
        with self._cond:
            self.in_use = max(0, self.in_use - 1)
            if finished:
                self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
            self._cond.notify_all()

    def refused(self) -> None:
        """The service answered 101004 (call after releasing the refused request's slot)."""
        with self._cond:
            self.refusals += 1
            self.limit = float(max(1, self.in_use))
            self._cond.notify_all()


class Backoff:
    """Capped exponential backoff with full jitter, from one seeded generator."""

    def __init__(self, base: float = 0.1, cap: float = 30.0, seed: int | None = None) -> None:
        self.base = base
        self.cap = cap
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt)))
        with self._lock:
            return self._random.uniform(ceiling / 4, ceiling)


class RateGate:
    """After a 101003, every worker waits before its next request, with growing pauses."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._resume_at = 0.0
        self._streak = 0
        self.refusals = 0
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        while True:
            with self._lock:
                pause = self._resume_at - time.monotonic()
            if pause <= 0 or stop.wait(pause):
                return

    def limited(self) -> None:
        with self._lock:
            self.refusals += 1
            self._streak += 1
            pause = self._backoff.delay(self._streak)
            self._resume_at = max(self._resume_at, time.monotonic() + pause)

    def passed(self) -> None:
        with self._lock:
            self._streak = 0


class CreditBudget:
    """The most credits a run may commit to, by the high end of each episode's estimate."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.reserved = 0
        self._lock = threading.Lock()

    def reserve(self, amount: int) -> bool:
        with self._lock:
            if self.limit is not None and self.reserved + amount > self.limit:
                return False
            self.reserved += amount
            return True
