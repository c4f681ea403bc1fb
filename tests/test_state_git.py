"""The git state backend: state reaches the remote while the run goes on, and one run at a time.

Everything runs for real: `acbatch run` processes, git against a local bare repository standing
in for GitHub, and the sandbox (or the strict double) as the API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_acbatch, text_episode, write_show

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
KEY = "state-git-test-key"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def make_remote(tmp_path: Path, episodes: int, **state: object) -> tuple[Path, Path]:
    """A bare `origin` holding a show on main, and a first clone of it."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    # Quick polls: these tests wait on git, not on the service.
    api = {"jobs": 4, "polling": {"initial": 0.1, "max_interval": 0.3}}
    write_show(seed, {f"ep-{i}": text_episode(i) for i in range(1, episodes + 1)}, api=api)
    if state:
        config = seed / "acbatch.yaml"
        config.write_text(config.read_text() + "state:\n" + _yaml(state), encoding="utf-8")
    (seed / ".gitignore").write_text("output/\n.acbatch.lock\nstate/sandbox/\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "config", "user.email", "dev@example.com")
    git(seed, "config", "user.name", "Dev")
    git(seed, "add", ".")
    git(seed, "commit", "-qm", "a show")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
    return origin, seed


def _yaml(data: dict[str, object]) -> str:
    import yaml

    return "".join("  " + line + "\n" for line in yaml.safe_dump(data).splitlines())


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


def restore_output(old: Path, new: Path) -> None:
    """What the workflow's audio cache does: the downloaded audio comes with the new machine."""
    if (old / "output").is_dir():
        shutil.copytree(old / "output", new / "output")


def env_for(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "AUDIOCLEANER_API_BASE": url,
        "AUDIOCLEANER_API_KEY": KEY,
        "ACBATCH_STATE_BACKEND": "git",
    }


def acbatch_on(root: Path, url: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    return start_acbatch("-C", str(root), *args, env=env_for(url), **popen)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def remote_states(origin: Path, branch: str = "main") -> dict[str, dict[str, Any]]:
    listing = git(origin, "ls-tree", "--name-only", f"{branch}", "state/")
    states = {}
    for path in listing.split():
        if path.endswith(".json"):
            states[Path(path).stem] = json.loads(git(origin, "show", f"{branch}:{path}"))
    return states


@pytest.mark.slow
def test_task_ids_reach_the_remote_during_the_run(tmp_path: Path, sandbox_factory: Any) -> None:
    server = sandbox_factory(synthesize=False, script_delay=1.0, audio_delay=30)
    origin, _ = make_remote(tmp_path, 3, git={"push_interval": 0.2})
    work = clone(origin, tmp_path / "work")
    run = acbatch_on(work, server.url, "run", "--no-render")
    try:
        deadline = time.monotonic() + 60
        while True:
            states = remote_states(origin)
            if len(states) == 3 and all(s["audio"]["global_id"] for s in states.values()):
                break
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "audio task ids never reached the remote"
            time.sleep(0.2)
        # Every task id the service handed out is on the remote while the run still waits.
        created = {t.global_id for t in server.backend.tasks()}
        pushed = {s[step]["global_id"] for s in states.values() for step in ("script", "audio")}
        assert pushed == created
        # The checkout itself is untouched: state commits go to the remote only.
        assert git(work, "log", "--format=%s", "-1") == "a show\n"
    finally:
        run.kill()
        run.wait()


@pytest.mark.slow
def test_a_push_to_main_during_the_run_is_kept_and_state_lands_on_top(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=0.5, audio_delay=1.5)
    origin, seed = make_remote(tmp_path, 4, git={"push_interval": 0.3})
    work = clone(origin, tmp_path / "work")
    run = acbatch_on(work, server.url, "run", "--no-render")
    deadline = time.monotonic() + 60
    while not remote_states(origin):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.1)
    # Someone merges a new spec while the run goes on.
    git(seed, "pull", "-q", "origin", "main")
    (seed / "specs" / "later.yaml").write_text(
        "source:\n  text: Later.\npublish:\n  draft: true\n", encoding="utf-8"
    )
    git(seed, "add", "specs/later.yaml")
    git(seed, "commit", "-qm", "a spec merged mid-run")
    git(seed, "push", "-q", "origin", "main")
    code, err = finish(run)
    assert code == 0, err
    log = git(origin, "log", "--format=%s", "main")
    assert "a spec merged mid-run" in log
    assert "specs/later.yaml" in git(origin, "ls-tree", "-r", "--name-only", "main")
    states = remote_states(origin)
    assert {s["phase"] for s in states.values()} == {"downloaded"}
    assert len(states) == 4
    # A fresh clone has every task id: a rerun creates nothing.
    before = dict(server.stats()["tasks_created"])
    fresh = clone(origin, tmp_path / "fresh")
    restore_output(work, fresh)
    code, err = finish(acbatch_on(fresh, server.url, "run", "--no-render"))
    assert code == 0, err
    assert server.stats()["tasks_created"] == before == {"script": 4, "audio": 4}
    assert not git(origin, "ls-remote", ".", "refs/acbatch/locks/*").strip()


def test_a_dedicated_state_branch(tmp_path: Path, sandbox_factory: Any) -> None:
    server = sandbox_factory(synthesize=False)
    origin, _ = make_remote(tmp_path, 2, git={"branch": "acbatch-state", "push_interval": 0.2})
    work = clone(origin, tmp_path / "work")
    code, err = finish(acbatch_on(work, server.url, "run", "--no-render"))
    assert code == 0, err
    assert "state/" not in git(origin, "ls-tree", "--name-only", "main")
    assert len(remote_states(origin, "acbatch-state")) == 2
    # A fresh clone of main fetches the state branch's state before it runs.
    fresh = clone(origin, tmp_path / "fresh")
    restore_output(work, fresh)
    code, err = finish(acbatch_on(fresh, server.url, "run", "--no-render"))
    assert code == 0, err
    assert server.stats()["tasks_created"] == {"script": 2, "audio": 2}
    assert (fresh / "state" / "ep-1.json").is_file()


def test_two_machines_one_show_the_second_exits_3_naming_the_holder(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=30)
    origin, _ = make_remote(tmp_path, 2, git={"push_interval": 0.2})
    first_clone = clone(origin, tmp_path / "first")
    second_clone = clone(origin, tmp_path / "second")
    first = acbatch_on(first_clone, server.url, "run", "--no-render")
    try:
        deadline = time.monotonic() + 30
        while not git(origin, "for-each-ref", "refs/acbatch/locks/").strip():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        code, err = finish(acbatch_on(second_clone, server.url, "run", "--no-render"), 60)
        assert code == 3, err
        assert "state lock on origin/main" in err and f"pid {first.pid}" in err
        assert "Traceback" not in err
        assert server.stats()["tasks_created"].get("script", 0) <= 2
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
def test_the_second_machine_waits_when_told_to(tmp_path: Path, sandbox_factory: Any) -> None:
    server = sandbox_factory(synthesize=False, script_delay=1.0)
    origin, _ = make_remote(tmp_path, 2, git={"push_interval": 0.2, "lock_wait": 120})
    first = acbatch_on(clone(origin, tmp_path / "first"), server.url, "run", "--no-render")
    deadline = time.monotonic() + 30
    while not git(origin, "for-each-ref", "refs/acbatch/locks/").strip():
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = acbatch_on(clone(origin, tmp_path / "second"), server.url, "run", "--no-render")
    assert finish(first)[0] == 0
    _, err = finish(second)
    assert "brought 2 newer state files" in err and "Traceback" not in err
    # The second run started after the first had pushed everything: it paid for nothing.
    assert server.stats()["tasks_created"] == {"script": 2, "audio": 2}


def test_state_push_after_a_killed_run_takes_over_its_lock(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=30)
    origin, _ = make_remote(tmp_path, 1, git={"push_interval": 600})
    work = clone(origin, tmp_path / "work")
    run = acbatch_on(work, server.url, "run", "--no-render")
    deadline = time.monotonic() + 30
    while (
        not (work / "state" / "ep-1.json").is_file()
        or 'global_id": "' not in (work / "state" / "ep-1.json").read_text()
    ):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    # The first save is pushed at once; wait for that push, then kill before the next one.
    time.sleep(1.0)
    run.kill()
    run.wait()
    code, err = finish(acbatch_on(work, server.url, "state", "push"))
    assert code == 0, err
    saved = json.loads((work / "state" / "ep-1.json").read_text())
    assert remote_states(origin)["ep-1"]["script"]["global_id"] == saved["script"]["global_id"]
    assert not git(origin, "for-each-ref", "refs/acbatch/locks/").strip()


def plant_lock(origin: Path, work: Path, host: str, renewed: float) -> None:
    """A lock ref as another machine's run leaves it."""
    holder = {"host": host, "pid": 4242, "started": "2026-01-01T00:00:00Z", "renewed": renewed}
    empty_tree = subprocess.run(
        ["git", "mktree"], cwd=work, input="", check=True, capture_output=True, text=True
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "commit-tree", empty_tree, "-m", f"acbatch: state lock\n\n{json.dumps(holder)}"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    git(work, "push", "-q", "origin", f"{commit}:refs/acbatch/locks/main")


def test_a_live_lock_elsewhere_refuses_even_state_push(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False)
    origin, _ = make_remote(tmp_path, 1)
    work = clone(origin, tmp_path / "work")
    plant_lock(origin, work, "ci-runner-elsewhere", time.time())
    for args in (("run", "--no-render"), ("state", "push")):
        code, err = finish(acbatch_on(work, server.url, *args))
        assert code == 3, err
        assert "pid 4242 on ci-runner-elsewhere" in err and "Traceback" not in err
    assert server.stats()["requests"] == {}


@pytest.mark.slow
def test_a_stale_lock_is_taken_over_and_a_long_run_renews_its_own(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=8)
    origin, _ = make_remote(tmp_path, 1, git={"push_interval": 0.2, "lock_stale_after": 10})
    work = clone(origin, tmp_path / "work")
    plant_lock(origin, work, "a-machine-that-died", time.time() - 3600)
    run = acbatch_on(work, server.url, "run", "--no-render")
    seen: set[str] = set()
    while run.poll() is None:
        listed = git(origin, "for-each-ref", "--format=%(objectname)", "refs/acbatch/locks/")
        seen.update(listed.split())
        time.sleep(0.2)
    _, err = run.communicate()
    assert run.returncode == 0, err
    assert "took over the stale state lock" in err and "a-machine-that-died" in err
    # The planted lock, the run's own, and at least one renewal of it during the 8 s wait.
    assert len(seen) >= 3, seen
    assert not git(origin, "for-each-ref", "refs/acbatch/locks/").strip()


def test_shards_of_a_matrix_run_at_once_but_not_beside_a_whole_run(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=30)
    origin, _ = make_remote(tmp_path, 4, git={"push_interval": 0.2})
    shards = [
        acbatch_on(clone(origin, tmp_path / f"shard-{k}"), server.url, "run", "--shard", f"{k}/2")
        for k in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 30
        while len(git(origin, "for-each-ref", "refs/acbatch/shard-locks/").split("\n")) < 3:
            assert time.monotonic() < deadline, [s.poll() for s in shards]
            assert all(s.poll() is None for s in shards)
            time.sleep(0.05)
        whole = clone(origin, tmp_path / "whole")
        code, err = finish(acbatch_on(whole, server.url, "run", "--no-render"), 60)
        assert code == 3, err
        assert "state lock on origin/main" in err and "Traceback" not in err
        assert all(s.poll() is None for s in shards), "both shards still run"
        assert server.stats()["tasks_created"].get("script", 0) <= 4
    finally:
        for shard in shards:
            shard.kill()
            shard.wait()
