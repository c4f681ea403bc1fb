"""When to ask whether a task is done.

The aim: the deciding poll (the one that finds the task done) goes out just after the task
finishes, and few polls find it still waiting.

What a poll proves, on the service's clock, is dated by when the poll was SENT (a task's age
counts from its create's answer):

- a poll sent at age `a` that finds the task `waiting` proves it finishes after `a`;
- a poll sent at age `b` that finds it done bounds its finish by `b`, however late the answer
  arrives: a status answer stuck for 30 s, or a machine that stalls while the answer is on its
  way, does not make tasks look longer.

Each kind of task (a step, and within it a duration level) keeps the bounds of its last
`WINDOW` finished tasks: `lower` (the sent-age of its last `waiting` answer) and `upper` (the
sent-age of the deciding poll). The finish lies between the highest lower bound and the lowest
upper bound. A late poll (a stall) only adds a high upper bound, which the lowest ignores. A
bound that a newer task contradicts (an upper bound at or below a newer lower bound, or the
reverse) is dropped, so a service that slows down or speeds up, or an upper bound dated too
early, is corrected by the next task rather than averaged over the window.

A task's schedule:

- first poll inside the bounds, at the next point of a sequence that splits them evenly (1/2,
  1/4, 3/4, ...): the tasks of one wave probe different points, so one wave narrows the bounds
  by about the number of tasks in it. Once the bounds are within `TIGHT`, first polls aim at the
  upper bound (one poll decides) and one task in `PROBE_EVERY` still probes inside them;
- after a `waiting`, again at the upper bound, where tasks of the kind were seen done; past it
  (most likely a moment late: a task's age is measured on this side of the wire), after `TIGHT`
  of its age, doubling up to `GROWTH` (capped at `max_interval`), or up to `PROBE_GROWTH` when
  the bound is borrowed from another kind; without any bound, after `PROBE_GROWTH` of its age;
- before any task of the kind finished (a new project), the first poll goes out around
  `PROBE_SHARE` of `initial` and the next ones every `PROBE_GROWTH` of the age, each task of a
  wave starting at another point of one such step; the first task seen done wakes the others
  that are as old, so a wave of several tasks finds the task time to within a few percent,
  however far `initial` is from it, for a handful of polls each. A duration level with no data
  of its own starts from its step's bounds, a step from the other step's.

The bounds are saved in the state folder (`LATENCY_FILE`, with the service they belong to) and
are the next run's prior. Only tasks created in the current run teach the model: a task resumed
from disk finished at some unknown moment.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_GAP = 0.05
"""No task is polled more often than this while its finish is unknown..."""
MIN_FOLLOW_GAP = 0.01
"""...or than this when the next poll aims at where tasks of the kind were seen done."""
GROWTH = 0.2
"""Gap between polls of a task past every known bound, as a share of its age."""
PROBE_SHARE = 0.125
"""Before any task of the kind finished: the first poll at this share of `initial`..."""
PROBE_GROWTH = 0.5
"""...and the next ones after this share of the task's age. Tasks of one wave start at points
spread over one such step, so together they look every few percent, and the first one seen done
wakes the others (`PollSchedule.wait_until`)."""
WAKE_CHECK = 0.1
"""A waiting task rechecks the model (and the run's stop) at least this often."""
TIGHT = 0.02
"""Bounds this close (a share of the upper one) are tight: most first polls aim at the upper."""
PROBE_EVERY = 4
"""Once tight, one task in this many still probes inside the bounds, to follow a faster service."""
WINDOW = 24
"""Finished tasks kept per kind."""
LATENCY_FILE = ".latency.json"
"""In the state folder; the leading dot keeps it out of the episode states."""
FORMAT_VERSION = 1


def spread(index: int) -> float:
    """The `index`-th point of the base-2 van der Corput sequence in (0, 1]: 1/2, 1/4, 3/4,
    1/8, 5/8, ... Consecutive tasks aim at points that split the unknown interval evenly."""
    index += 1
    fraction, denominator = 0.0, 1.0
    while index:
        denominator *= 2
        index, bit = divmod(index, 2)
        fraction += bit / denominator
    return fraction


@dataclass(eq=False)
class LatencyModel:
    """The finish-time bounds of one kind of task."""

    initial: float
    max_interval: float
    lower: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    upper: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    tasks: int = 0
    """Schedules handed out: spreads first polls over the bounds."""
    fallbacks: list[LatencyModel] = field(default_factory=list, repr=False)
    """Models whose estimate stands in while this one has none (its step, the other step)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished: threading.Condition = field(default_factory=threading.Condition, repr=False)
    """Notified whenever a task of the kind is seen done."""

    # -- what is known ---------------------------------------------------------------------------

    def own_bounds(self) -> tuple[float | None, float | None]:
        """(the latest age a task was seen waiting at, the earliest it was seen done at)."""
        with self._lock:
            return (
                max(self.lower) if self.lower else None,
                min(self.upper) if self.upper else None,
            )

    def bounds(self) -> tuple[float | None, float | None]:
        """This model's bounds, or the first fallback's that has seen a task finish."""
        for model in (self, *self.fallbacks):
            low, high = model.own_bounds()
            if high is not None:
                return low, high
        return None, None

    def first_age(self) -> float:
        """The age at which a new task's first poll goes out."""
        low, high = self.bounds()
        with self._lock:
            index = self.tasks
            self.tasks += 1
        if high is None:
            start = min(self.initial * PROBE_SHARE, self.max_interval)
            return start * float((1 + PROBE_GROWTH) ** (spread(index) - 0.5))
        low = 0.0 if low is None else min(low, high)
        if high - low > TIGHT * high:
            return low + spread(index) * (high - low)
        if index % PROBE_EVERY:
            return high
        return low + spread(index // PROBE_EVERY) * (high - low)

    def next_age(self, waiting_sent_at: float, past_upper: int = 0) -> float:
        """A poll sent at age `waiting_sent_at` found the task waiting: when to ask again.
        `past_upper`: earlier `waiting` answers of this task at or past the upper bound."""
        _low, high = self.bounds()
        age = waiting_sent_at
        if high is None:
            return age + max(MIN_GAP, min(self.max_interval, PROBE_GROWTH * age))
        grown = age + min(self.max_interval, GROWTH * age)
        if high > age:
            # Where tasks of the kind were seen done: one more poll should decide.
            return min(grown, max(high, age + MIN_FOLLOW_GAP))
        # Past where tasks were seen done: most likely a moment late (ages are measured on
        # this side of the wire), so look again soon, then back off towards GROWTH. Bounds
        # borrowed from another kind (audio from scripts, one duration level from another)
        # say little about this one: back off further, as while probing.
        borrowed = self.own_bounds()[1] is None
        ceiling = PROBE_GROWTH if borrowed else GROWTH
        share = min(ceiling, TIGHT * float(2**past_upper))
        return age + max(MIN_FOLLOW_GAP, min(self.max_interval, share * age))

    # -- learning --------------------------------------------------------------------------------

    def learn(self, upper: float, lower: float | None) -> None:
        """A task created in this run was seen done by a poll sent at age `upper`; its last
        `waiting` answer came from a poll sent at age `lower` (None: the first poll decided)."""
        with self._lock:
            if lower is not None:
                # Finishes this late contradict older "done by" times below it.
                self._drop(self.upper, lambda value: value <= lower)
                self.lower.append(lower)
            self._drop(self.lower, lambda value: value >= upper)
            self.upper.append(upper)
        with self._finished:
            self._finished.notify_all()

    @staticmethod
    def _drop(values: deque[float], contradicted: Any) -> None:
        kept = [v for v in values if not contradicted(v)]
        if len(kept) != len(values):
            values.clear()
            values.extend(kept)

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, list[float]]:
        with self._lock:
            return {
                "lower": [round(v, 4) for v in self.lower],
                "upper": [round(v, 4) for v in self.upper],
            }

    def load(self, data: object) -> None:
        if not isinstance(data, dict):
            return
        with self._lock:
            for name, target in (("lower", self.lower), ("upper", self.upper)):
                values = data.get(name)
                if isinstance(values, list):
                    target.extend(
                        float(v)
                        for v in values
                        if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e7
                    )


@dataclass
class PollSchedule:
    """One task's polls. Ages are seconds since the task's create was answered."""

    model: LatencyModel
    also_teaches: LatencyModel | None = None
    """The step's model, when `model` is one duration level's."""
    last_waiting: float | None = None
    past_upper: int = 0

    def first_age(self) -> float:
        return self.model.first_age()

    def wait_until(self, due: float, age: Callable[[], float], stop: threading.Event) -> bool:
        """Sleep until the task is `due` seconds old, or until a task of the kind is seen done
        earlier than that (then poll at once if this one is as old). True: the run stopped."""
        _low, known = self.model.bounds()
        while not stop.is_set():
            with self.model._finished:
                _low, high = self.model.bounds()
                if high is not None and (known is None or high < known):
                    due = min(due, high)
                    known = high
                remaining = due - age()
                if remaining <= 0:
                    return False
                self.model._finished.wait(min(remaining, WAKE_CHECK))
        return True

    def next_age(self, waiting_sent_at: float) -> float:
        self.last_waiting = waiting_sent_at
        _low, high = self.model.bounds()
        past = self.past_upper
        if high is not None and waiting_sent_at >= high:
            self.past_upper += 1
        return self.model.next_age(waiting_sent_at, past)

    def done(self, sent_at: float) -> None:
        """The poll sent at age `sent_at` found the task done (teaches only fresh tasks)."""
        self.model.learn(sent_at, self.last_waiting)
        if self.also_teaches is not None and self.also_teaches is not self.model:
            self.also_teaches.learn(sent_at, self.last_waiting)


class LatencyBook:
    """The models of one run: per step, and per duration level within it."""

    def __init__(self, initial: float, max_interval: float) -> None:
        self.initial = initial
        self.max_interval = max_interval
        self.steps = {step: LatencyModel(initial, max_interval) for step in ("script", "audio")}
        self.steps["script"].fallbacks = [self.steps["audio"]]
        self.steps["audio"].fallbacks = [self.steps["script"]]
        self.levels: dict[tuple[str, int], LatencyModel] = {}
        self._lock = threading.Lock()

    def __getitem__(self, step: str) -> LatencyModel:
        return self.steps[step]

    def level(self, step: str, level: int | None) -> LatencyModel:
        """The model for tasks of `step` at a duration `level` (the step's own without one)."""
        if level is None:
            return self.steps[step]
        with self._lock:
            model = self.levels.get((step, level))
            if model is None:
                other = "audio" if step == "script" else "script"
                model = LatencyModel(self.initial, self.max_interval)
                model.fallbacks = [self.steps[step], self.steps[other]]
                self.levels[(step, level)] = model
            return model

    def schedule(self, step: str, level: int | None) -> PollSchedule:
        return PollSchedule(self.level(step, level), self.steps[step])

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self, service: str) -> dict[str, Any]:
        with self._lock:
            levels = {f"{step}:{level}": m.to_json() for (step, level), m in self.levels.items()}
        return {
            "version": FORMAT_VERSION,
            "service": service,
            "steps": {step: m.to_json() for step, m in self.steps.items()},
            "levels": levels,
        }

    def load_json(self, data: object, service: str) -> bool:
        """Take saved bounds as the prior; ignored when they belong to another service."""
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            return False
        if data.get("service") != service:
            return False
        steps = data.get("steps")
        if isinstance(steps, dict):
            for step, model in self.steps.items():
                model.load(steps.get(step))
        levels = data.get("levels")
        if isinstance(levels, dict):
            for key, saved in levels.items():
                step, _, level = str(key).partition(":")
                if step in self.steps and level.isdigit():
                    self.level(step, int(level)).load(saved)
        return True

    def load(self, folder: Path, service: str) -> bool:
        import json

        try:
            data = json.loads((folder / LATENCY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return self.load_json(data, service)

    def save(self, folder: Path, service: str) -> None:
        from acbatch.store import atomic_write_json

        if folder.is_dir():
            atomic_write_json(folder / LATENCY_FILE, self.to_json(service))
