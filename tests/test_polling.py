"""The latency model: its prior, learning within one wave, outliers, and what it keeps.

A fixed-latency service is simulated here without time: a poll sent at age `a` finds its task
done when `a >= L`, which is exactly what the strict double answers (tests/test_polling_stall.py
drives the real runner against it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acbatch.runner.polling import (
    GROWTH,
    LATENCY_FILE,
    PROBE_GROWTH,
    PROBE_SHARE,
    LatencyBook,
    PollSchedule,
    spread,
)
from acbatch.runner.state import StateStore
from acbatch.store import atomic_write_json

SERVICE = "https://api.example.com"


def poll_task(
    schedule: PollSchedule, latency: float, first: float | None = None
) -> tuple[float, int]:
    """One task of a fixed-latency service: (age of its deciding poll, polls)."""
    age = schedule.first_age() if first is None else first
    polls = 1
    while age < latency:
        age = schedule.next_age(age)
        polls += 1
    schedule.done(age)
    return age, polls


def wave(
    book: LatencyBook, step: str, latency: float, tasks: int, level: int = 1
) -> list[tuple[float, int]]:
    """Tasks created together, so always of the same age: each polls when due, and a task seen
    done pulls the others' next poll in to its age, as `PollSchedule.wait_until` does."""
    schedules = [book.schedule(step, level) for _ in range(tasks)]
    due = {i: schedule.first_age() for i, schedule in enumerate(schedules)}
    known = {i: book.level(step, level).bounds()[1] for i in due}
    polls = dict.fromkeys(due, 0)
    decided: dict[int, float] = {}
    while due:
        task = min(due, key=lambda i: (due[i], i))
        age = due.pop(task)
        polls[task] += 1
        if age < latency:
            due[task] = schedules[task].next_age(age)
            continue
        schedules[task].done(age)
        decided[task] = age
        high = book.level(step, level).bounds()[1]
        for other in due:
            if high is not None and (known[other] is None or high < known[other]):  # type: ignore[operator]
                due[other] = max(age, min(due[other], high))
                known[other] = high
    return [(decided[i], polls[i]) for i in sorted(decided)]


def test_spread_splits_the_interval_evenly() -> None:
    assert [spread(i) for i in range(7)] == [0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]


def test_the_prior_before_anything_is_known_probes_early_then_grows() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    start = 2.0 * PROBE_SHARE
    # The tasks of a wave start at points spread over one probing step around the start.
    firsts = [book.schedule("script", 1).first_age() for _ in range(4)]
    assert len(set(firsts)) == 4
    assert all(start / 1.3 < first < start * 1.3 for first in firsts)
    schedule = book.schedule("script", 1)
    assert schedule.next_age(1.0) == 1.0 + PROBE_GROWTH * 1.0
    # Gaps never exceed max_interval, however old the task.
    assert schedule.next_age(1000.0) == 1030.0


def test_one_wave_finds_the_task_time_and_the_next_waves_land_just_after_it() -> None:
    latency = 1.0
    book = LatencyBook(initial=2.0, max_interval=30.0)
    first = wave(book, "script", latency, 8)
    # The first wave, knowing nothing, notices its tasks within a few percent of their time.
    assert all(latency <= age <= latency * 1.06 for age, _ in first)
    second = wave(book, "script", latency, 8)
    assert max(age for age, _ in second) <= max(age for age, _ in first)
    later = [task for _ in range(4) for task in wave(book, "script", latency, 8)]
    # From the third wave on, every deciding poll is within 3% of the true time...
    assert all(latency <= age <= latency * 1.03 for age, _ in later)
    # ...at fewer than 2 polls per task (4 are allowed).
    assert sum(polls for _, polls in later) / len(later) < 2.0
    tasks = first + second + later
    assert sum(polls for _, polls in tasks) / len(tasks) <= 4.0


def test_the_audio_step_starts_from_the_script_steps_time() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(3):
        wave(book, "script", 1.0, 8)
    audio = wave(book, "audio", 1.0, 8)
    assert all(age <= 1.03 for age, _ in audio)


def test_past_a_bound_borrowed_from_the_other_step_polls_back_off_as_while_probing() -> None:
    """Scripts take 0.5 s, audio 10 s (speech is slow): the audio step starts from the
    scripts' time, and once past it backs off to PROBE_GROWTH of its age, not GROWTH."""
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(3):
        wave(book, "script", 0.5, 4)
    schedule = book.schedule("audio", 1)
    gaps = []
    age = schedule.first_age()
    while age < 10.0:
        following = schedule.next_age(age)
        gaps.append((following - age) / age)
        age = following
    assert max(gaps) == pytest.approx(PROBE_GROWTH)
    assert len(gaps) + 1 <= 13  # 21 when backing off only to GROWTH
    # Once the audio step has a time of its own, past it polls back off only to GROWTH.
    schedule.done(age)
    own = book.schedule("audio", 1)
    late = [own.next_age(age * 2) for _ in range(8)][-1]
    assert late - age * 2 == pytest.approx(GROWTH * age * 2)


def test_duration_levels_learn_apart_and_new_levels_start_from_their_step() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(3):
        for level, latency in ((1, 1.0), (5, 3.0)):
            wave(book, "audio", latency, 8, level)
    short = book.level("audio", 1).own_bounds()
    long = book.level("audio", 5).own_bounds()
    assert short[1] is not None and 1.0 <= short[1] <= 1.03
    assert long[1] is not None and 3.0 <= long[1] <= 3.09
    # A level never seen starts from its step's bounds instead of probing from nothing.
    assert book.schedule("audio", 7).first_age() > 2.0 * PROBE_SHARE


def test_a_stalled_poll_does_not_make_tasks_look_longer() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(4):
        wave(book, "script", 1.0, 8)
    before = book["script"].own_bounds()
    # A machine stall: a whole wave's polls go out 5 s late and find their tasks done.
    for schedule in [book.schedule("script", 1) for _ in range(8)]:
        schedule.done(6.0)
    assert book["script"].own_bounds() == before
    assert all(age <= 1.03 for age, _ in wave(book, "script", 1.0, 8))


def test_an_upper_bound_dated_too_early_is_dropped_by_the_next_task() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(4):
        wave(book, "script", 1.0, 8)
    book.schedule("script", 1).done(0.5)  # a poll dated before it really left
    assert book["script"].own_bounds()[1] == 0.5
    wave(book, "script", 1.0, 8)
    low, high = book["script"].own_bounds()
    assert high is not None and high >= 1.0 and low is not None and low < 1.0


def test_a_service_that_slows_down_is_followed_within_a_wave() -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(4):
        wave(book, "script", 1.0, 8)
    slower = wave(book, "script", 2.0, 8)
    assert all(2.0 <= age <= 2.0 * (1 + GROWTH) for age, _ in slower)
    # The wave that met the change pinned the new time down: the next ones land within 4%,
    # then 2%.
    assert all(2.0 <= age <= 2.08 for age, _ in wave(book, "script", 2.0, 8))
    assert all(2.0 <= age <= 2.04 for age, _ in wave(book, "script", 2.0, 8))


def test_the_bounds_are_kept_for_the_next_run_of_the_same_service(tmp_path: Path) -> None:
    book = LatencyBook(initial=2.0, max_interval=30.0)
    for _ in range(4):
        wave(book, "script", 1.0, 8)
        wave(book, "audio", 2.0, 8)
    book.save(tmp_path, SERVICE)
    saved = json.loads((tmp_path / LATENCY_FILE).read_text())
    assert saved["service"] == SERVICE and saved["levels"]["audio:1"]["upper"]
    # The file is not an episode's state.
    atomic_write_json(tmp_path / "ep-1.json", {"id": "ep-1"})
    assert StateStore(tmp_path).all_ids() == ["ep-1"]

    again = LatencyBook(initial=2.0, max_interval=30.0)
    assert again.load(tmp_path, SERVICE)
    # The next run's first wave already lands just after the task time.
    assert all(1.0 <= age <= 1.03 for age, _ in wave(again, "script", 1.0, 8))
    assert all(2.0 <= age <= 2.06 for age, _ in wave(again, "audio", 2.0, 8))

    other = LatencyBook(initial=2.0, max_interval=30.0)
    assert not other.load(tmp_path, "https://elsewhere.example.com")
    assert other.schedule("script", 1).first_age() == 2.0 * PROBE_SHARE


def test_a_damaged_latency_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / LATENCY_FILE).write_text("{not json")
    book = LatencyBook(initial=2.0, max_interval=30.0)
    assert not book.load(tmp_path, SERVICE)
    (tmp_path / LATENCY_FILE).write_text(
        json.dumps(
            {
                "version": 1,
                "service": SERVICE,
                "steps": {"script": {"upper": ["x", -1, True, 1.5], "lower": "no"}},
                "levels": {"script:x": {}, "nope:1": {}},
            }
        )
    )
    assert book.load(tmp_path, SERVICE)
    assert book["script"].own_bounds() == (None, 1.5)
