"""The shipped GitHub Actions workflow: schema-valid, and its steps work in order on a real repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import text_episode, write_show

WORKFLOW = Path(__file__).resolve().parent.parent / "acbatch" / "workflows" / "podcast.yml"


def test_the_workflow_passes_the_github_workflow_schema() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker, "check-jsonschema is a test dependency"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_publishing_jobs_never_overlap_and_the_key_is_a_secret() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    publish = workflow["jobs"]["publish"]
    assert publish["concurrency"] == {"group": "podcast-publish", "cancel-in-progress": False}
    run_step = next(s for s in publish["steps"] if s.get("name") == "Run")
    assert run_step["env"]["AUDIOCLEANER_API_KEY"] == "${{ secrets.AUDIOCLEANER_API_KEY }}"
    plan_job = workflow["jobs"]["plan"]
    assert all("secrets." not in str(step) for step in plan_job["steps"])


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def run_job(job: dict[str, Any], repo: Path, env: dict[str, str]) -> None:
    """Run a job's shell steps in order, as the runner would (actions are provided by the test)."""
    for step in job["steps"]:
        script = step.get("run")
        if script is None or step.get("name", "").startswith("Install"):
            continue
        step_env = {**env}
        for name, value in (step.get("env") or {}).items():
            step_env[name] = env["SECRET_" + name] if "secrets." in str(value) else str(value)
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (step.get("name"), result.stdout, result.stderr)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_workflow_steps_run_in_order_on_a_scratch_repo(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo = tmp_path / "show"
    write_show(repo, {f"ep-{i}": text_episode(i) for i in range(1, 4)})
    (repo / ".gitignore").write_text("output/\n.acbatch.lock\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a show")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")

    workflow = yaml.safe_load(WORKFLOW.read_text())
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "AUDIOCLEANER_API_BASE": server.url,
        "SECRET_AUDIOCLEANER_API_KEY": "workflow-secret-key",
    }
    env.pop("AUDIOCLEANER_API_KEY", None)

    run_job(workflow["jobs"]["plan"], repo, env)
    plan = summary.read_text()
    assert "## acbatch plan" in plan and "create_script" in plan and "credits" in plan
    assert server.stats()["requests"] == {}, "planning must not touch the API"

    run_job(workflow["jobs"]["publish"], repo, env)
    assert server.stats()["tasks_created"] == {"script": 3, "audio": 3}
    committed = git(origin, "show", "--stat", "--format=%s", "main")
    assert "acbatch: update episode state" in committed
    assert "state/ep-1.json" in committed
    assert (repo / "output" / "feed.xml").is_file()

    requests_before = dict(server.stats()["requests"])
    run_job(workflow["jobs"]["publish"], repo, env)
    assert server.stats()["requests"] == requests_before, "a second run must make no requests"
    assert git(repo, "status", "--porcelain", "state") == ""
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert b"workflow-secret-key" not in path.read_bytes()
