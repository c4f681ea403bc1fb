"""Staying inside the API's limits: an adaptive concurrency limit, a shared rate-limit backoff,
a credit budget, and capped full-jitter backoff for retries."""

from __future__ import annotations

import random
import threading
import time


class AdaptiveLimit:
    """How many tasks may be in flight, learnt from 101004 answers.

    A slot is held from a create until its task is seen finished. When the service says the key
    has too many tasks in flight, the limit drops to what was in flight when the refused create
    gave its slot back (never higher than before: creates refused at the same moment still hold
    slots). Every task seen finished raises it again by 1/limit, about one slot per round of
    tasks, up to the ceiling (additive increase). Growing past the level of the last refusal is
    a probe; a probe refused again halves the pace of later probes, so a fixed limit costs a
    refused create every few rounds rather than every round. Two slots past the last refusal
    show the service allows more again, and the pace is reset.
    """

    MAX_PROBE_ROUNDS = 16

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_use = 0
        self.refusals = 0
        self._probe_rounds = 1.0
        self._refused_level: int | None = None
        self._cond = threading.Condition()
        # What this thread's last unfinished release left in flight: refused() runs right after
        # it, but a waiting worker may have taken the freed slot in between.
        self._released = threading.local()

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
            self._released.in_use = None if finished else self.in_use
            if finished:
                self._grow()
            # Only as many waiters as there are free slots: with many workers waiting, waking
            # them all for one slot costs more than the slot is worth.
            self._cond.notify(max(0, max(1, int(self.limit)) - self.in_use))

    def hand_on(self) -> bool:
        """A task finished and its holder has the next create ready: keep the slot for it
        (counted as a finished task) when the limit still allows it. False: nothing changed,
        release the slot instead."""
        with self._cond:
            if self.in_use > max(1, int(self.limit)):
                return False
            self._grow()
            return True

    def _grow(self) -> None:
        """A task seen finished: additive increase, slower while probing past a refusal."""
        if self.limit < self.ceiling:
            probing = self._refused_level is not None and self.limit >= self._refused_level
            rounds = self._probe_rounds if probing else 1.0
            self.limit = min(float(self.ceiling), self.limit + 1.0 / (self.limit * rounds))
            if self._refused_level is not None and self.limit >= self._refused_level + 2:
                self._probe_rounds = 1.0
                self._refused_level = None

    def refused(self) -> None:
        """The service answered 101004 (call after releasing the refused request's slot)."""
        with self._cond:
            self.refusals += 1
            in_flight = getattr(self._released, "in_use", None)
            self._released.in_use = None
            before = int(self.limit)
            level = max(1, min(before, self.in_use if in_flight is None else in_flight))
            last = self._refused_level
            if last is not None and before > last and level >= last:
                self._probe_rounds = min(float(self.MAX_PROBE_ROUNDS), self._probe_rounds * 2)
            self._refused_level = level
            self.limit = float(level)
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
    """After a 101003, every worker waits before its next request, with growing pauses.

    Refusals that arrive during a pause answer requests sent before it began, so they do not
    lengthen it: only a refusal after the pause counts as another step of the streak.
    """

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
            now = time.monotonic()
            if now < self._resume_at:
                # Sent before the current pause began: the same burst, not a new refusal.
                return
            self._streak += 1
            self._resume_at = now + self._backoff.delay(self._streak)

    def passed(self) -> None:
        with self._lock:
            self._streak = 0


class CreditBudget:
    """The credits a run may still commit to, held per episode by the high end of its estimate.

    An episode's hold covers all of its billed work in the run (its audio), so the audio create
    that follows a script create in the same run is not counted twice. `plan` and `run` hold
    in the same order (the episodes' order), so both reach the same verdict for each episode.
    """

    def __init__(self, left: int | None) -> None:
        self.left = left
        self.held: dict[str, int] = {}
        self._lock = threading.Lock()

    def available(self, episode_id: str) -> int | None:
        with self._lock:
            if self.left is None:
                return None
            return self.left + self.held.get(episode_id, 0)

    def hold(self, episode_id: str, amount: int) -> bool:
        """Hold `amount` for the episode (a larger hold replaces a smaller one)."""
        with self._lock:
            already = self.held.get(episode_id, 0)
            extra = max(0, amount - already)
            if self.left is not None:
                if extra > self.left:
                    return False
                self.left -= extra
            self.held[episode_id] = max(already, amount)
            return True
