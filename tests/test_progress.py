"""The live progress line counts the episodes a run touches and ends at N/N."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acbatch.runner.batch import in_shard
from acbatch.runner.engine import Outcome
from acbatch.runner.progress import Progress
from tests.conftest import text_episode, write_show


def test_every_way_an_episode_ends_counts_it_as_finished() -> None:
    stream = io.StringIO()
    outcomes = list(Outcome)
    progress = Progress(len(outcomes), stream=stream, live=True)
    for number, outcome in enumerate(outcomes):
        progress(f"ep-{number}", "script_requested", "")
        progress(f"ep-{number}", outcome.value, "a message")
    progress.close()
    last = stream.getvalue().rsplit("\r\x1b[K", 1)[-1]
    assert last.startswith(f"{len(outcomes)}/{len(outcomes)} finished"), last


def live_run(root: Path, *args: str) -> str:
    """`acbatch run --sandbox ARGS` on a pseudo-terminal: what its stderr showed."""
    import pty

    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI",) and "AUDIOCLEANER" not in k}
    env["TERM"] = "xterm"
    process = subprocess.Popen(
        [sys.executable, "-m", "acbatch", "run", "--sandbox", *args],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the run is over
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=300) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def counters(output: str) -> list[str]:
    return re.findall(r"(\d+/\d+) finished", output)


@pytest.mark.slow
def test_a_live_run_counts_neither_drafts_nor_other_shards(tmp_path: Path) -> None:
    draft = text_episode(9)
    draft["publish"] = {**draft["publish"], "draft": True}  # type: ignore[dict-item]
    ids = [f"ep-{n}" for n in range(1, 5)]
    write_show(tmp_path, {**{i: text_episode(n) for n, i in enumerate(ids, 1)}, "draft": draft})

    shown = live_run(tmp_path, "--shard", "1/2")
    in_first = [i for i in ids if in_shard(i, (1, 2))]
    assert counters(shown)[-1] == f"{len(in_first)}/{len(in_first)}", shown
    assert all(c.endswith(f"/{len(in_first)}") for c in counters(shown))

    shown = live_run(tmp_path)
    assert counters(shown)[-1] == f"{len(ids)}/{len(ids)}", shown
    assert f"{len(ids)} episodes:" in shown and "drafts skipped: draft" in shown

    shown = live_run(tmp_path, "ep-1")
    assert counters(shown)[-1] == "1/1"
    assert "acbatch: 1 episode: 1 done" in shown and "1 episodes" not in shown
