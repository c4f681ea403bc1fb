"""The CI job summary written from `acbatch run --json`: every unfinished episode, safely shown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from acbatch.jobsummary import render_summary

REPORT = {
    "schema_version": 1,
    "episodes": [
        {"id": "ep-1", "outcome": "done", "phase": "rendered", "message": "", "credits": 12},
        {
            "id": "ep-2",
            "outcome": "failed",
            "phase": "failed",
            "message": "boom | <b>x</b>\nmore",
            "credits": 3,
        },
        {"id": "ep-3", "outcome": "uncertain", "phase": "uncertain", "message": "", "credits": 0},
        {"id": "ep-4", "outcome": "over_budget", "phase": "new", "message": "", "credits": 0},
    ],
    "credits_charged": 15,
    "aborted": None,
    "exit_code": 1,
}


def test_every_unfinished_episode_and_the_credits() -> None:
    text = render_summary(REPORT)
    assert "1 of 4 episodes done, 3 not finished; 15 credits spent" in text
    for episode, outcome in (("ep-2", "failed"), ("ep-3", "uncertain"), ("ep-4", "over_budget")):
        assert f"| {episode} | **{outcome}** |" in text
    assert "--retry-uncertain" in text
    assert "| ep-1 | 12 |" in text


def test_server_text_cannot_break_the_table_or_inject_html() -> None:
    row = next(line for line in render_summary(REPORT).splitlines() if "ep-2" in line)
    assert "<b>" not in row and "&lt;b&gt;" in row and "boom \\| " in row
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert len(cells) == 6, cells


def test_a_missing_report_is_said_plainly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acbatch.jobsummary", str(tmp_path / "absent.json"), "3"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert "wrote no report (exit code 3)" in done.stdout


def test_it_reads_a_report_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(REPORT))
    done = subprocess.run(
        [sys.executable, "-m", "acbatch.jobsummary", str(path)], capture_output=True, text=True
    )
    assert "## acbatch run" in done.stdout and "ep-4" in done.stdout
