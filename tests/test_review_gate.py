"""Review scripts: checked like specs, approvals bound to the script task they approve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from acbatch.project.loader import load_project
from acbatch.project.model import Episode, format_problem
from acbatch.runner import review
from acbatch.runner.plan import read_review
from acbatch.runner.state import EpisodeState, StateStore, StepRecord
from tests.conftest import acbatch, text_episode, write_show

SCRIPT_RESULT: dict[str, Any] = {
    "title": "Tide pools",
    "processed_content": "About tide pools.",
    "podcast_script": [
        {"role": "host", "name": "Ava", "text": "Welcome to the tide pools."},
        {"role": "guest", "name": "Leo", "text": "Sea stars cling to the rocks."},
    ],
    "hightlights": [],
}


def reviewed_show(root: Path) -> Episode:
    config = write_show(root, {"ep-1": text_episode(1, review="required")})
    episode = load_project(config).episode("ep-1")
    assert episode is not None
    return episode


def script_state(task: str, text: str = "Welcome to the tide pools.") -> EpisodeState:
    result = json.loads(json.dumps(SCRIPT_RESULT))
    result["podcast_script"][0]["text"] = text
    return EpisodeState(id="ep-1", guid="g", script=StepRecord(global_id=task, result=result))


def approve_in_file(path: Path, edit: str | None = None) -> None:
    text = path.read_text(encoding="utf-8").replace("approved: false", "approved: true")
    if edit is not None:
        text = text.replace("Welcome to the tide pools.", edit)
    path.write_text(text, encoding="utf-8")


# --- the library -------------------------------------------------------------------------------


def approved_script(episode: Episode, script_task: str) -> dict[str, Any] | None:
    """The edited script the runner sends for `script_task`: the review file as the decision
    reads it, counted only when its approval is for that task."""
    seen, script = read_review(episode)
    return script if seen.approves(script_task) else None


def test_approval_is_current_only_for_its_own_task() -> None:
    approved = {"approved": True, "script_task": "task-1"}
    assert review.approval_is_current(approved, "task-1")
    assert not review.approval_is_current(approved, "task-2")
    assert review.approval_is_current(approved, None)  # no current task to bind to
    assert not review.approval_is_current({**approved, "approved": False}, "task-1")
    assert not review.approval_is_current({"approved": True}, "task-1")


def test_approved_script_is_none_for_another_task(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    review.write_review_file(episode, script_state("task-1"))
    approve_in_file(episode.script_review_path, "My own opening line.")
    current = approved_script(episode, "task-1")
    assert current is not None
    assert current["podcast_script"][0]["text"] == "My own opening line."
    assert approved_script(episode, "task-2") is None


def test_a_new_script_task_moves_the_old_edits_aside(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path, "My own opening line.")
    edited = path.read_text(encoding="utf-8")

    again = review.write_review_file(episode, script_state("task-2", "A brand new opening."))
    assert again == path
    previous = review.previous_path(episode)
    assert previous.name == "ep-1.previous.script.yaml"
    assert previous.read_text(encoding="utf-8") == edited  # every edit and comment kept
    fresh = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert fresh["approved"] is False and fresh["script_task"] == "task-2"
    assert fresh["script"][0]["text"] == "A brand new opening."
    assert "ep-1.previous.script.yaml" in path.read_text(encoding="utf-8")
    assert approved_script(episode, "task-2") is None
    # The previous copy is never taken for an episode spec, nor checked as a review script.
    project = load_project(tmp_path / "acbatch.yaml")
    assert [e.id for e in project.episodes] == ["ep-1"] and not project.problems
    assert review.review_files(tmp_path / "specs") == [path]


def test_edits_of_the_current_task_are_never_clobbered(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path, "My own opening line.")
    edited = path.read_text(encoding="utf-8")
    review.write_review_file(episode, script_state("task-1", "Something else entirely."))
    assert path.read_text(encoding="utf-8") == edited
    assert not review.previous_path(episode).exists()


def test_a_broken_file_of_an_older_task_is_still_moved_aside(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    broken = path.read_text(encoding="utf-8").replace("approved: false", "approved: [")
    path.write_text(broken, encoding="utf-8")
    review.write_review_file(episode, script_state("task-2"))
    assert review.previous_path(episode).read_text(encoding="utf-8") == broken
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["script_task"] == "task-2"


def test_review_problems_have_positions_and_suggestions(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("- role: host", "- rol: host", 1), encoding="utf-8")
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.strip() == "- role: host")
    problems = review.review_problems(path)
    assert [(p.line, p.column, p.field, p.suggestion) for p in problems] == [
        (line, 3, "script[0].rol", "role")
    ]
    seen, script = read_review(episode)
    assert script is None and not seen.approves("task-1")
    # Relative to the current folder when inside it, in the one problem format.
    assert format_problem(problems[0]) in seen.problem


def test_stale_approval_and_wrong_episode_are_reported(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path)
    assert review.review_problems(path, "task-1") == []
    stale = review.review_problems(path, "task-2")
    assert [(p.field, p.severity) for p in stale] == [("script_task", "error")]
    assert "task-1" in stale[0].message and "task-2" in stale[0].message
    assert "ep-1.previous.script.yaml" in stale[0].message
    other = path.with_name("ep-2.script.yaml")
    other.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert [p.field for p in review.review_problems(other)] == ["episode"]


# --- validate and the pre-commit hook ----------------------------------------------------------


def test_validate_checks_review_scripts_with_file_line_column(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path)
    good = acbatch("validate", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "1 review script" in good.stderr
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("- role: host", "- rol: host", 1), encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.strip() == "- role: host")
    expected = (
        f"specs/ep-1.script.yaml:{line}:3: script[0].rol: unknown field 'rol' "
        "(did you mean 'role'?)"
    )
    for args in ((), ("specs/ep-1.script.yaml",), ("specs",)):
        bad = acbatch("validate", *args, cwd=tmp_path)
        assert bad.returncode == 1
        assert expected in bad.stderr.splitlines(), bad.stderr
    report = json.loads(acbatch("validate", "--json", cwd=tmp_path).stdout)
    assert report["ok"] is False and report["review_scripts"] == 1
    assert report["problems"][0]["file"] == "specs/ep-1.script.yaml"


def test_validate_reports_an_approval_of_an_older_script(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path)
    store = StateStore(tmp_path / "state")
    store.save(script_state("task-1"))
    assert acbatch("validate", cwd=tmp_path).returncode == 0
    store.save(script_state("task-2"))
    stale = acbatch("validate", cwd=tmp_path)
    assert stale.returncode == 1
    assert "specs/ep-1.script.yaml:" in stale.stderr and "task-2" in stale.stderr
    # The sandbox runs' state is separate; --sandbox checks against it.
    StateStore(tmp_path / "state" / "sandbox").save(script_state("task-1"))
    assert acbatch("validate", "--sandbox", cwd=tmp_path).returncode == 0


def test_unused_review_scripts_are_warnings(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    episode = load_project(tmp_path / "acbatch.yaml").episode("ep-1")
    assert episode is not None
    path = review.write_review_file(episode, script_state("task-1"))
    orphan = path.with_name("gone.script.yaml")
    orphan.write_text(path.read_text().replace("episode: ep-1", "episode: gone"))
    result = acbatch("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "specs/ep-1.script.yaml:1:1: warning: episode 'ep-1' has review: auto" in result.stderr
    assert "specs/gone.script.yaml:1:1: warning: there is no episode 'gone'" in result.stderr


@pytest.mark.slow
def test_a_broken_approved_script_fails_the_pre_commit_hook(tmp_path: Path) -> None:
    import shutil

    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if shutil.which("git") is None or pre_commit is None:
        pytest.skip("git and pre-commit are needed")
    show = tmp_path / "show"
    episode = reviewed_show(show)
    path = review.write_review_file(episode, script_state("task-1"))
    approve_in_file(path)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=show, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "dev@example.com")
    git("config", "user.name", "Dev")
    git("add", ".")
    git("commit", "-qm", "a show with an approved script")
    path.write_text(path.read_text().replace("- role: host", "- rol: host", 1))
    git("add", ".")
    repo = Path(__file__).resolve().parent.parent
    failing = subprocess.run(
        [pre_commit, "try-repo", str(repo), "acbatch-validate"],
        cwd=show,
        env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "specs/ep-1.script.yaml:" in failing.stdout
    assert "script[0].rol: unknown field 'rol' (did you mean 'role'?)" in failing.stdout


def test_approve_refuses_a_file_for_another_script_task(tmp_path: Path) -> None:
    episode = reviewed_show(tmp_path)
    path = review.write_review_file(episode, script_state("task-1"))
    with pytest.raises(review.ReviewError, match="current script is task 'task-2'"):
        review.approve(episode, "task-2")
    assert yaml.safe_load(path.read_text())["approved"] is False
    assert review.approve(episode, "task-1") == path
    assert yaml.safe_load(path.read_text())["approved"] is True


@pytest.mark.slow
def test_plan_and_run_show_a_broken_review_script(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1, review="required"), "ep-2": text_episode(2)})
    first = acbatch("run", "--sandbox", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # Sandbox runs keep their review scripts in their own workspace.
    path = tmp_path / "sandbox" / "reviews" / "ep-1.script.yaml"
    assert acbatch("approve", "--sandbox", "ep-1", cwd=tmp_path).returncode == 0
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("- role:", "- rol:", 1), encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("- role:"))
    expected = (
        f"sandbox/reviews/ep-1.script.yaml:{line}:3: script[0].rol: unknown field 'rol' "
        "(did you mean 'role'?)"
    )
    planned = acbatch("plan", "--sandbox", cwd=tmp_path)
    assert planned.returncode == 1 and expected in planned.stderr.splitlines()
    assert "create_audio" not in planned.stdout
    skipping = acbatch("plan", "--sandbox", "--skip-invalid", "--json", cwd=tmp_path)
    assert [e["id"] for e in json.loads(skipping.stdout)["episodes"]] == ["ep-2"]
    assert "ep-1 (sandbox/reviews/ep-1.script.yaml)" in skipping.stderr
    refused = acbatch("run", "--sandbox", "ep-1", cwd=tmp_path)
    assert refused.returncode == 1 and expected in refused.stderr.splitlines()
    other = acbatch("run", "--sandbox", "ep-2", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
