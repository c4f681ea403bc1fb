"""When to ask whether a task is done.

Each step (script, audio) learns how long its tasks take, and each task gets a schedule:

- the first poll goes out when the model expects the task to be done;
- a task found still waiting at that first look is probably nearly done, so it is looked at
  again soon (`NEAR_GAP` of its age);
- after that the gaps grow with the task's age (`GROWTH` of the time already spent), so a task
  that runs long is noticed within about a fifth of its duration and costs a handful of polls.

`max_interval` caps the gaps between polls and the wait for a first poll at `initial`; a first
poll aimed at a learnt task time waits as long as that time, however long.

Learning: a task seen waiting at age a and done at age b took between a and b, and the estimate
moves towards the upper part of that interval, so most first polls find their task done. A task
done at its first look took at most its age: it pulls the estimate slightly earlier, to follow a
service that speeds up. While no task of the kind has been seen still waiting, nothing bounds
how early the tasks finish, so such a success pulls the estimate down hard instead; a task that
this lower estimate finds still waiting climbs back no further than the age that worked.

Until a task of the kind has been seen finishing, the first poll waits `initial` seconds, or a
share of the other step's typical task time once that step has one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from acbatch.spec.model import Polling

MIN_GAP = 0.05
"""No task is polled more often than this."""
GROWTH = 0.2
"""Gap between polls of a task running past expectations, as a share of its age."""
NEAR_GAP = 0.05
"""Gap after a first poll at a bounded estimate found the task still waiting."""
WEIGHT = 0.25
"""Weight of each finished task in the estimate."""
UPPER_SHARE = 0.75
"""Where in (last seen waiting, first seen done] a task that was seen waiting is taken to end."""
EARLIER = 0.99
"""A first-look success moves its sample this much earlier, to follow a faster service."""
EARLIER_STALE = 0.9
"""The same once `STALE_AFTER` first-look successes in a row suggest the service sped up."""
STALE_AFTER = 32
"""First-look successes in a row after which the service may have sped up."""
EARLIER_UNBOUNDED = 0.6
"""The same while no task of the kind has been seen still waiting."""
SIBLING_SHARE = 0.75
"""Share of the other step's typical task time used for a first poll before this step has
its own estimate."""
FRESH_TASK_AGE = 1.05
"""Ages below this at the first poll are from a task created moments ago (see `schedule`)."""


@dataclass
class PollSchedule:
    """One task's polls: ask `first_delay`, then `next_delay` after every `waiting` answer,
    and report the end with `done`. Ages are seconds since the task's create."""

    model: LatencyModel
    offset: float = 0.0
    """Error in the ages the caller reports, removed from every age it passes in."""
    aimed: bool = False
    """The first poll aims at an estimate bounded from below (a task was seen waiting)."""
    ceiling: float | None = None
    """An age at which tasks of the kind were seen done, when the estimate aims below it."""
    waiting_polls: int = 0

    def first_delay(self, age: float) -> float:
        age = max(0.0, age - self.offset)
        target, self.aimed, self.ceiling = self.model.first_target()
        if target == self.model.initial:
            target = min(target, self.model.max_interval)
        return max(0.0, target - age)

    def next_delay(self, age: float) -> float:
        age = max(0.0, age - self.offset)
        self.waiting_polls += 1
        if self.waiting_polls == 1 and self.aimed:
            gap = age * NEAR_GAP
        else:
            gap = age * GROWTH
            if self.ceiling is not None and self.ceiling > age:
                gap = min(gap, self.ceiling - age)
        return min(self.model.max_interval, max(MIN_GAP, gap))

    def done(self, age: float, last_waiting_age: float | None) -> None:
        lower = None if last_waiting_age is None else max(0.0, last_waiting_age - self.offset)
        self.model.learn(max(0.0, age - self.offset), lower)


@dataclass(eq=False)
class LatencyModel:
    initial: float
    max_interval: float
    estimate: float | None = None
    sibling: LatencyModel | None = field(default=None, repr=False)
    """The other step's model, whose estimate stands in until this one has its own."""
    seen_waiting: bool = False
    """A task of this kind has been seen still waiting, so the estimate has a lower bound."""
    upper: float | None = None
    """While not `seen_waiting`: the age at which the last first look found a task done."""
    first_look_successes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _current: threading.local = field(default_factory=threading.local, repr=False)

    # -- learning --------------------------------------------------------------------------------

    @property
    def typical(self) -> float | None:
        """How long tasks of the kind take, as far as is known."""
        return self.estimate if self.seen_waiting else self.upper

    def first_target(self) -> tuple[float, bool, float | None]:
        """A new task's first poll: its age then, whether the estimate is bounded below, and
        the age at which tasks of the kind were last seen done if it aims earlier."""
        with self._lock:
            if self.estimate is not None:
                return self.estimate, self.seen_waiting, self.upper
        other = self.sibling.typical if self.sibling is not None else None
        if other is not None:
            return other * SIBLING_SHARE, False, None
        return self.initial, False, None

    def learn(self, done_age: float, last_waiting_age: float | None) -> None:
        """A task was seen done at `done_age`, still waiting at `last_waiting_age` (None when
        its first poll found it done)."""
        with self._lock:
            if last_waiting_age is None:
                self.first_look_successes += 1
                if not self.seen_waiting:
                    self.upper = done_age
                    factor = EARLIER_UNBOUNDED
                elif self.first_look_successes >= STALE_AFTER:
                    factor = EARLIER_STALE
                else:
                    factor = EARLIER
                sample = done_age * factor
            else:
                self.first_look_successes = 0
                self.seen_waiting = True
                self.upper = None
                sample = last_waiting_age + UPPER_SHARE * (done_age - last_waiting_age)
            if self.estimate is None:
                self.estimate = sample
            elif not self.seen_waiting:
                # Probing for the lower bound: every task of a wave reports the same sample, so
                # taking the lowest moves one step per wave whatever the number of workers.
                self.estimate = min(self.estimate, sample)
            else:
                self.estimate += WEIGHT * (sample - self.estimate)

    # -- one task's polls --------------------------------------------------------------------------

    def schedule(self, age: float = 0.0) -> PollSchedule:
        """A schedule for a task `age` seconds old.

        The runner dates a task by its saved `requested_at`, a whole-second timestamp, so a task
        polled right after its create can look up to a second older than it is. An age that
        small at the first poll can only be that error (a task resumed from disk is older), so
        it is treated as an offset and the task as brand new.
        """
        offset = age if age < FRESH_TASK_AGE else 0.0
        return PollSchedule(self, offset=offset)

    # The runner's per-task calls, kept per thread: each worker polls one task at a time.

    def first_delay(self, already_elapsed: float = 0.0) -> float:
        schedule = self.schedule(already_elapsed)
        self._current.schedule = schedule
        return schedule.first_delay(already_elapsed)

    def next_delay(self, elapsed: float) -> float:
        return self._task_schedule().next_delay(elapsed)

    def observe(self, seen_done_at: float, last_waiting_at: float | None) -> None:
        """A task was seen done `seen_done_at` s after creation; it was still waiting at
        `last_waiting_at` (None when the first poll already found it done)."""
        self._task_schedule().done(seen_done_at, last_waiting_at)
        self._current.schedule = None

    def _task_schedule(self) -> PollSchedule:
        schedule: PollSchedule | None = getattr(self._current, "schedule", None)
        if schedule is None:
            schedule = PollSchedule(self)
            self._current.schedule = schedule
        return schedule


def latency_models(polling: Polling) -> dict[str, LatencyModel]:
    script = LatencyModel(initial=polling.initial, max_interval=polling.max_interval)
    audio = LatencyModel(initial=polling.initial, max_interval=polling.max_interval)
    script.sibling, audio.sibling = audio, script
    return {"script": script, "audio": audio}
