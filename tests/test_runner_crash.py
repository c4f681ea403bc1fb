"""The runner killed with SIGKILL mid-batch, and two runners on one project.

The runner runs as a real `acbatch run` process against a sandbox that lives in the test, so the
sandbox's counters survive every kill.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from acbatch.project.loader import load_project
from acbatch.runner.state import Phase, StateStore
from tests.conftest import start_acbatch, text_episode, write_show

KEY = "crash-test-key-0042"
KILLS = 20


def runner(root: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {"AUDIOCLEANER_API_BASE": url, "AUDIOCLEANER_API_KEY": KEY}
    return start_acbatch("-C", str(root), "run", "--no-render", *args, env=env)


def all_states_parse(root: Path) -> dict[str, Any]:
    store = StateStore(root / "state")
    loaded = {episode_id: store.load(episode_id) for episode_id in store.all_ids()}
    for episode_id, state in loaded.items():
        assert state is not None and state.id == episode_id
    return loaded


def tasks_for(server: Any, project: Any, state: Any, step: str) -> int:
    """How many tasks the sandbox created for this episode's step."""
    if step == "script":
        text = project.episode(state.id).source.value
        return sum(
            1
            for t in server.backend.tasks()
            if t.kind == "script" and t.request.get("text") == text
        )
    return sum(
        1
        for t in server.backend.tasks()
        if t.kind == "audio" and t.request.get("global_id") == state.script.global_id
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_pays_nothing_twice(
    tmp_path: Path, sandbox_factory: Any, drill_report: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=0.4, audio_delay=0.4)
    root = tmp_path / "show"
    episodes = {f"ep-{i:02d}": text_episode(i) for i in range(1, 25)}
    write_show(root, episodes, api={"jobs": 4, "polling": {"initial": 0.2}})
    rng = random.Random(20261130)
    for _ in range(KILLS):
        process = runner(root, server.url)
        time.sleep(rng.uniform(0.3, 1.3))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        all_states_parse(root)
        leftovers = [p for p in (root / "output").rglob("*.mp3")]
        for mp3 in leftovers:
            assert not mp3.name.startswith("."), "a partial download reached a final name"

    finished = runner(root, server.url)
    finished.communicate(timeout=120)
    project = load_project(root / "acbatch.yaml")
    states = all_states_parse(root)
    # The one window no client can close: the process died after the create was sent but before
    # its task id was saved. Such episodes must be `uncertain`, never silently resent.
    window = []
    for state in states.values():
        if state.phase == Phase.UNCERTAIN:
            created = tasks_for(server, project, state, state.failed_step)
            assert created <= 1
            if created == 1:
                window.append(state.id)
    assert server.stats()["duplicate_work"] == []

    uncertain = [s.id for s in states.values() if s.phase == Phase.UNCERTAIN]
    if uncertain:
        args = [arg for episode_id in uncertain for arg in ("--retry-uncertain", episode_id)]
        runner(root, server.url, *args).communicate(timeout=120)
    states = all_states_parse(root)
    assert {s.phase for s in states.values()} == {Phase.DOWNLOADED}, {
        s.id: s.phase for s in states.values()
    }
    assert set(states) == set(episodes)
    duplicated = server.stats()["duplicate_work"]
    # Only an episode caught in that window, resent on the user's word, may have two tasks.
    assert len(duplicated) <= len(window)
    drill_report(
        f"SIGKILL drill: {KILLS} kills at random moments, {len(uncertain)} episodes uncertain "
        f"after them ({len(window)} in the create-answered-but-unsaved window), "
        f"{sum(server.stats()['tasks_created'].values())} tasks for {len(episodes)} episodes"
    )


@pytest.mark.slow
def test_a_second_runner_exits_at_once_naming_the_holder(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=30)
    root = tmp_path / "show"
    write_show(root, {"ep-1": text_episode(1)})
    first = runner(root, server.url)
    try:
        lock = root / ".acbatch.lock"
        deadline = time.monotonic() + 30
        while str(first.pid) not in (lock.read_text() if lock.exists() else ""):
            assert time.monotonic() < deadline, "the first runner never took the lock"
            time.sleep(0.05)
        started = time.monotonic()
        second = runner(root, server.url)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 3
        assert f"pid {first.pid}" in err and "started" in err
        assert "Traceback" not in err
        assert time.monotonic() - started < 10
    finally:
        first.kill()
        first.wait()
    # The kernel released the dead holder's lock: the next run may take it.
    from acbatch.store import ProjectLock

    with ProjectLock(root / ".acbatch.lock"):
        pass
