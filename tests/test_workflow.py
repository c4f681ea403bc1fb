"""The workflow `acbatch init` writes: pinned, hardened, schema-valid, and its steps work in order.

The steps run for real against a local bare repository standing in for GitHub, with the sandbox
or the strict double as the API; the actions (checkout, cache, Pages) are played by the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import acbatch
from acbatch.scaffold import VERSION_MARK, WORKFLOW, workflow_bytes
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble, catalog_document

BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


@pytest.fixture
def scaffolded(tmp_path: Path) -> Path:
    path = tmp_path / "scaffolded" / ".github" / "workflows" / "podcast.yml"
    path.parent.mkdir(parents=True)
    path.write_bytes(workflow_bytes())
    return path


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_the_workflow_passes_the_github_workflow_schema(scaffolded: Path) -> None:
    checker = shutil.which("check-jsonschema", path=str(BIN))
    assert checker, "check-jsonschema is a test dependency"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(scaffolded)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing_above_informational(scaffolded: Path, persona: str) -> None:
    zizmor = shutil.which("zizmor", path=str(BIN))
    assert zizmor, "zizmor is a test dependency"
    result = subprocess.run(
        [
            zizmor,
            "--offline",
            "--no-progress",
            "--format",
            "json",
            f"--persona={persona}",
            str(scaffolded),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    findings = json.loads(result.stdout)
    serious = [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if f["determinations"]["severity"] not in ("Informational", "Unknown")
    ]
    assert serious == [], result.stderr


def test_zizmor_would_catch_an_unpinned_action(scaffolded: Path) -> None:
    text = scaffolded.read_text()
    scaffolded.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v7", text))
    zizmor = shutil.which("zizmor", path=str(BIN))
    assert zizmor
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--format", "json", str(scaffolded)],
        capture_output=True,
        text=True,
    )
    assert "unpinned-uses" in {f["ident"] for f in json.loads(result.stdout)}


def test_init_pins_the_acbatch_that_wrote_it(scaffolded: Path) -> None:
    text = scaffolded.read_text()
    assert VERSION_MARK not in text
    assert load(scaffolded)["env"]["ACBATCH_SPEC"] == f"acbatch=={acbatch.__version__}"
    assert "git+https://" in text, "says how to install before a release exists"
    assert VERSION_MARK in WORKFLOW.read_text(), "the version comes from __version__ alone"


def test_every_action_is_pinned_by_commit_with_its_version(scaffolded: Path) -> None:
    lines = [line.strip() for line in scaffolded.read_text().splitlines()]
    uses = [line.split("uses:", 1)[1].strip() for line in lines if "uses:" in line]
    assert len(uses) >= 6
    for reference in uses:
        assert PINNED.match(reference), reference


def test_least_privilege_timeouts_and_concurrency(scaffolded: Path) -> None:
    workflow = load(scaffolded)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        assert 0 < job["timeout-minutes"] <= 180, name
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                persist = step["with"]["persist-credentials"]
                assert persist is (name == "publish"), f"{name}: only publish pushes"
    assert workflow["jobs"]["plan"]["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["publish"]["permissions"] == {"contents": "write"}
    assert set(workflow["jobs"]["deploy"]["permissions"]) == {"pages", "id-token"}
    concurrency = workflow["concurrency"]
    # A publishing run is never cancelled; only pull-request plans replace each other.
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert "pull_request" in concurrency["group"] and "'publish'" in concurrency["group"]
    keys = [
        step["with"]["key"]
        for step in workflow["jobs"]["publish"]["steps"]
        if "actions/cache" in step.get("uses", "")
    ]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert "hashFiles('state/*.json')" in keys[0] and "run_id" not in keys[0]


def test_the_key_is_only_in_the_run_step(scaffolded: Path) -> None:
    workflow = load(scaffolded)
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "secrets." in str(step):
                assert (name, step.get("name")) == ("publish", "Run")
                assert step["env"]["AUDIOCLEANER_API_KEY"] == "${{ secrets.AUDIOCLEANER_API_KEY }}"
                assert step["env"]["ACBATCH_STATE_BACKEND"] == "git"


# --- the steps, run in order ---------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def run_job(job: dict[str, Any], repo: Path, env: dict[str, str]) -> dict[str, str]:
    """Run a job's shell steps in order, as the runner would; returns the steps' outputs.

    Actions (uses:) are played by the test; `Install` steps are skipped (acbatch is installed).
    A step that fails stops the job, as on GitHub, and is reported by the assertion.
    """
    outputs: dict[str, str] = {}
    for step in job["steps"]:
        script = step.get("run")
        if script is None or step.get("name", "").startswith("Install"):
            continue
        output_file = Path(env["RUNNER_TEMP"]) / "step-output"
        output_file.write_text("")
        step_env = {**env, "GITHUB_OUTPUT": str(output_file)}
        for name, value in (step.get("env") or {}).items():
            value = str(value)
            if "secrets." in value:
                value = env["SECRET_" + name]
            step_env[name] = value
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (step.get("name"), result.stdout, result.stderr)
        for line in output_file.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[f"{step.get('id')}.{key}"] = value
    return outputs


def result_job(workflow: dict[str, Any], repo: Path, env: dict[str, str], code: str) -> int:
    script = workflow["jobs"]["result"]["steps"][0]["run"]
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env={**env, "RUN_EXIT_CODE": code},
        capture_output=True,
        text=True,
    )
    return done.returncode


def new_repo(tmp_path: Path, episodes: dict[str, dict[str, object]]) -> tuple[Path, Path]:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo = tmp_path / "show"
    write_show(repo, episodes)
    (repo / ".gitignore").write_text("output/\n.acbatch.lock\nstate/sandbox/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a show")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "-u", "origin", "main")
    return origin, repo


def job_env(tmp_path: Path, url: str) -> dict[str, str]:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "RUNNER_TEMP": str(runner_temp),
        "AUDIOCLEANER_API_BASE": url,
        "SECRET_AUDIOCLEANER_API_KEY": "workflow-secret-key",
    }
    env.pop("AUDIOCLEANER_API_KEY", None)
    return env


def remote_task_ids(origin: Path) -> dict[str, tuple[str | None, str | None]]:
    ids = {}
    for path in git(origin, "ls-tree", "--name-only", "main", "state/").split():
        state = json.loads(git(origin, "show", f"main:{path}"))
        ids[state["id"]] = (state["script"]["global_id"], state["audio"]["global_id"])
    return ids


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.slow
def test_the_steps_in_order_with_a_push_to_main_during_the_run(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=1.0, audio_delay=1.0)
    origin, repo = new_repo(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 4)})
    workflow = yaml.safe_load(workflow_bytes())
    env = job_env(tmp_path, server.url)

    run_job(workflow["jobs"]["plan"], repo, env)
    plan = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## acbatch plan" in plan and "create_script" in plan and "credits" in plan
    assert server.stats()["requests"] == {}, "planning must not touch the API"

    outputs: dict[str, str] = {}
    failure: list[BaseException] = []

    def publish() -> None:
        try:
            outputs.update(run_job(workflow["jobs"]["publish"], repo, env))
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)

    job = threading.Thread(target=publish)
    job.start()
    # Someone merges a spec while the run goes on: after its first state commit, before its end.
    other = tmp_path / "other"
    deadline = time.monotonic() + 60
    while "save episode state" not in git(origin, "log", "--format=%s", "main"):
        assert time.monotonic() < deadline and job.is_alive(), failure
        time.sleep(0.05)
    subprocess.run(["git", "clone", "-q", str(origin), str(other)], check=True)
    (other / "specs" / "merged.yaml").write_text(
        "source:\n  text: Merged.\npublish:\n  draft: true\n"
    )
    git(other, "add", ".")
    git(other, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "merged")
    git(other, "push", "-q", "origin", "main")
    assert job.is_alive(), "the push must land during the run"
    job.join(timeout=300)
    assert not failure, failure

    assert server.stats()["tasks_created"] == {"script": 3, "audio": 3}
    assert outputs["run.exit-code"] == "0" and outputs["site.ready"] == "true"
    assert "merged" in git(origin, "log", "--format=%s", "main")
    ids = remote_task_ids(origin)
    created = {t.global_id for t in server.backend.tasks()}
    assert {i for pair in ids.values() for i in pair} == created
    assert (repo / "output" / "feed.xml").is_file()
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## acbatch run" in summary and "3 of 3 episodes done" in summary
    assert result_job(workflow, repo, env, outputs["run.exit-code"]) == 0

    # The next run, on a new machine: a fresh clone, the audio from the cache. Nothing is paid.
    # A shallow clone, as actions/checkout makes.
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", "--depth=1", origin.as_uri(), str(fresh)], check=True)
    shutil.copytree(repo / "output", fresh / "output")
    requests_before = dict(server.stats()["requests"])
    outputs = run_job(workflow["jobs"]["publish"], fresh, env)
    assert outputs["run.exit-code"] == "0"
    assert server.stats()["tasks_created"] == {"script": 3, "audio": 3}
    assert server.stats()["requests"] == requests_before, "a rerun must make no requests"
    assert (
        not git(origin, "for-each-ref", "refs/acbatch/").strip()
        or not git(origin, "for-each-ref", "refs/acbatch/locks/").strip()
    )
    for root in (repo, fresh, origin):
        for path in root.rglob("*"):
            if path.is_file():
                assert b"workflow-secret-key" not in path.read_bytes(), path


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.slow
def test_a_failed_episode_still_publishes_the_rest_then_fails_the_workflow(
    tmp_path: Path,
) -> None:
    episodes = {f"ep-{i}": text_episode(i) for i in range(1, 4)}
    failing_text = episodes["ep-2"]["source"]["text"]  # type: ignore[index]
    with StrictDouble(script_latency=0.2, audio_latency=0.2, fail_tasks={failing_text}) as double:
        origin, repo = new_repo(tmp_path, episodes)
        (repo / "voices.json").write_text(json.dumps(catalog_document()), encoding="utf-8")
        git(repo, "commit", "-qam", "the double's voices")
        git(repo, "push", "-q", "origin", "main")
        workflow = yaml.safe_load(workflow_bytes())
        env = job_env(tmp_path, double.url)
        outputs = run_job(workflow["jobs"]["publish"], repo, env)
    assert outputs["run.exit-code"] == "1"
    assert outputs["site.ready"] == "true", "what succeeded is deployed"
    feed = (repo / "output" / "feed.xml").read_text()
    assert feed.count("<item>") == 2
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "2 of 3 episodes done, 1 not finished" in summary
    assert "| ep-2 | **failed** |" in summary and "credits spent" in summary
    assert remote_task_ids(origin)["ep-2"][0] is not None, "the failed episode's state is pushed"
    assert result_job(workflow, repo, env, outputs["run.exit-code"]) == 1


# --- the repository's own release workflow -----------------------------------------------------

RELEASE = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "release.yml"


def test_the_release_workflow_is_schema_valid_pinned_and_clean() -> None:
    checker = shutil.which("check-jsonschema", path=str(BIN))
    zizmor = shutil.which("zizmor", path=str(BIN))
    assert checker and zizmor
    schema = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(RELEASE)],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        [
            zizmor,
            "--offline",
            "--no-progress",
            "--format",
            "json",
            "--persona=auditor",
            str(RELEASE),
        ],
        capture_output=True,
        text=True,
    )
    assert json.loads(audit.stdout) == [], audit.stderr
    workflow = load(RELEASE)
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as true
    publish = workflow["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}, "trusted publishing, no token"
    assert publish["environment"]["name"] == "pypi"
    assert "secrets." not in RELEASE.read_text()
    for line in RELEASE.read_text().splitlines():
        if "uses:" in line:
            assert PINNED.match(line.split("uses:", 1)[1].strip()), line


@pytest.mark.parametrize(
    ("tag", "code"), [(f"v{acbatch.__version__}", 0), ("v99.0.0", 1)], ids=["match", "other"]
)
def test_the_release_refuses_a_tag_that_is_not_the_version(tag: str, code: int) -> None:
    step = next(
        s
        for s in load(RELEASE)["jobs"]["build"]["steps"]
        if s.get("name", "").startswith("The tag")
    )
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=RELEASE.parent.parent.parent,
        env={**os.environ, "TAG": tag, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == code, done.stdout + done.stderr
