"""The project lock keeps a second run out even when its file is deleted or replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from acbatch.errors import LockHeld
from acbatch.store import ProjectLock
from tests.conftest import text_episode, write_show

KEY = "lock-test-key-0042"


def test_deleting_the_lock_file_does_not_admit_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / ".acbatch.lock"
    with ProjectLock(path) as first:
        path.unlink()
        with pytest.raises(LockHeld):
            ProjectLock(path).acquire()
        path.write_text("{}")
        with pytest.raises(LockHeld):
            ProjectLock(path).acquire()
        assert first.still_held()
    with ProjectLock(path) as again:
        assert again.still_held()
    assert not again.still_held()


def test_a_replaced_project_folder_is_no_longer_held(tmp_path: Path) -> None:
    root = tmp_path / "show"
    root.mkdir()
    with ProjectLock(root / ".acbatch.lock") as lock:
        assert lock.still_held()
        root.rename(tmp_path / "moved")
        root.mkdir()
        assert not lock.still_held()


def test_the_holder_is_named_in_the_refusal(tmp_path: Path) -> None:
    path = tmp_path / ".acbatch.lock"
    with ProjectLock(path), pytest.raises(LockHeld) as refused:
        ProjectLock(path).acquire()
    assert f"pid {os.getpid()}" in str(refused.value)
    assert refused.value.exit_code == 3


def test_a_second_run_is_refused_after_the_lock_file_was_deleted(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=30)
    root = tmp_path / "show"
    write_show(root, {"ep-1": text_episode(1)})
    env = {**os.environ, "AUDIOCLEANER_API_BASE": server.url, "AUDIOCLEANER_API_KEY": KEY}
    command = [sys.executable, "-m", "acbatch", "-C", str(root), "run", "--no-render"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = root / ".acbatch.lock"
        deadline = time.monotonic() + 30
        while str(first.pid) not in (lock.read_text() if lock.exists() else ""):
            assert time.monotonic() < deadline, "the first runner never took the lock"
            time.sleep(0.05)
        lock.unlink()
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3, second.stderr
        assert "another acbatch run" in second.stderr and "Traceback" not in second.stderr
        assert server.stats()["tasks_created"].get("script", 0) <= 1
    finally:
        first.kill()
        first.wait()
