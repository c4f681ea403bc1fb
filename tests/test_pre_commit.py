"""The pre-commit hook, run the way pre-commit users run it: `pre-commit try-repo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from acbatch.scaffold import scaffold_project

REPO = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.slow
def test_try_repo_runs_the_validate_hook_on_a_spec_repository(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert pre_commit, "pre-commit is a test dependency"
    show = tmp_path / "show"
    scaffold_project(show)
    git(show, "init", "-q", "-b", "main")
    git(show, "config", "user.email", "dev@example.com")
    git(show, "config", "user.name", "Dev")
    git(show, "add", ".")
    git(show, "commit", "-qm", "a show")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(REPO), "acbatch-validate", "--all-files"],
            cwd=show,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    passing = try_repo()
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "acbatch validate" in passing.stdout and "Passed" in passing.stdout

    spec = show / "specs" / "welcome.yaml"
    spec.write_text(spec.read_text() + "stlye: interview\n")
    git(show, "add", ".")
    failing = try_repo()
    assert failing.returncode == 1
    assert "specs/welcome.yaml" in failing.stdout and "stlye" in failing.stdout
    assert "did you mean 'style'" in failing.stdout


def test_the_docs_pin_a_revision_that_exists() -> None:
    import re

    import yaml

    doc = (REPO / "docs" / "publishing-from-ci.md").read_text(encoding="utf-8")
    block = re.search(r"## pre-commit.*?```yaml\n(.*?)```", doc, re.S)
    assert block, "the pre-commit section shows a configuration"
    config = yaml.safe_load(block.group(1))
    rev = str(config["repos"][0]["rev"])
    assert config["repos"][0]["hooks"] == [{"id": "acbatch-validate"}]
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    # Either a tag of this repository, or the placeholder for a commit, explained in the text.
    assert rev in tags or rev == "<full commit id>", rev
    if rev not in tags:
        assert "pin a commit" in doc and "full commit id" in doc
