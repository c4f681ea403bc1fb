"""SIGKILL drills with state on a git remote: a fresh clone finishes the show without paying twice.

Each drill starts `acbatch run` with the git backend against the strict double, kills it with
SIGKILL at a seeded random moment, runs the workflow's always-run `acbatch state push` step,
then finishes the show from a fresh clone of the remote. The double's counters are the witness.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_acbatch
from tests.double import StrictDouble, catalog_document
from tests.test_state_git import clone, env_for, git, make_remote

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
DRILLS = 20
EPISODES = 3


def run_acbatch(root: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return start_acbatch("-C", str(root), *args, env=env_for(url), stdout=subprocess.DEVNULL)


def use_the_doubles_voices(root: Path) -> None:
    (root / "voices.json").write_text(json.dumps(catalog_document()), encoding="utf-8")
    git(root, "commit", "-qam", "the double's voices")
    git(root, "push", "-q", "origin", "main")


def tasks_per_episode(double: StrictDouble) -> dict[str, Counter[str]]:
    """episode text -> how many script and audio tasks the double created for it."""
    script_text = {
        gid: t.body.get("text", "") for gid, t in double.tasks.items() if t.step == "script"
    }
    counts: dict[str, Counter[str]] = {}
    for task in double.tasks.values():
        if task.step == "script":
            text = task.body.get("text", "")
        else:
            text = script_text.get(str(task.body.get("global_id")), "?")
        counts.setdefault(text, Counter())[task.step] += 1
    return counts


def tasks_by_episode(double: StrictDouble) -> dict[tuple[str, str], list[str]]:
    """(episode id, step) -> the ids of the tasks the double made for it, oldest first."""
    found: dict[tuple[str, str], list[str]] = {}
    for step, made in double.creates.items():
        for _at, global_id in made:
            text = double.source_of(global_id)
            number = text.split()[1] if text.startswith("Episode ") else "?"
            found.setdefault((f"ep-{number}", step), []).append(global_id)
    return found


@pytest.mark.slow
def test_sigkill_drills_lose_no_task_id_on_the_remote(tmp_path: Path, drill_report: Any) -> None:
    chooser = random.Random(1313)
    uncertain_total = 0
    for drill in range(DRILLS):
        base = tmp_path / f"drill-{drill}"
        base.mkdir()
        with StrictDouble(script_latency=0.3, audio_latency=0.3) as double:
            origin, seed = make_remote(base, EPISODES, git={"push_interval": 0.2})
            use_the_doubles_voices(seed)
            work = clone(origin, base / "work")
            run = run_acbatch(work, double.url, "run", "--no-render")
            time.sleep(chooser.uniform(0.3, 2.0))
            run.send_signal(signal.SIGKILL)
            run.wait()
            # The workflow's always-run step, on the same machine.
            pushed = run_acbatch(work, double.url, "state", "push")
            _, err = pushed.communicate(timeout=120)
            assert pushed.returncode == 0, err
            local = {
                p.stem: json.loads(p.read_text())
                for p in (work / "state").glob("*.json")
                if not p.name.startswith(".")  # episode states, not acbatch's own files
            }
            for episode_id, state in local.items():
                remote = json.loads(git(origin, "show", f"main:state/{episode_id}.json"))
                for step in ("script", "audio"):
                    assert remote[step]["global_id"] == state[step]["global_id"], (
                        drill,
                        episode_id,
                    )
            # A new machine finishes the show from the remote alone: audio of finished episodes
            # is fetched again for free, with no cache.
            fresh = clone(origin, base / "fresh")
            # A kill between a create's intent and its task id leaves the episode uncertain: the
            # service may or may not have the task. The user looks in their account (here: the
            # double's tasks) and adopts the task if it is there, or resends it if it is not.
            sending = {
                i: s["phase"].removesuffix("_sending")
                for i, s in local.items()
                if s["phase"] in ("script_sending", "audio_sending")
            }
            uncertain_total += len(sending)
            made = tasks_by_episode(double)
            retry = []
            for episode_id, step in sending.items():
                found = made.get((episode_id, step))
                if found:
                    adopted = run_acbatch(
                        fresh,
                        double.url,
                        "adopt",
                        episode_id,
                        f"--{step}-task",
                        found[0],
                        "--no-render",
                    )
                    _, err = adopted.communicate(timeout=120)
                    assert adopted.returncode == 0, (drill, err)
                else:
                    retry.append(f"--retry-uncertain={episode_id}")
            finishing = run_acbatch(fresh, double.url, "run", "--no-render", *retry)
            _, err = finishing.communicate(timeout=120)
            assert finishing.returncode == 0, (drill, err)
            counts = tasks_per_episode(double)
            assert len(counts) == EPISODES, (drill, counts)
            for number in range(1, EPISODES + 1):
                steps = next(c for t, c in counts.items() if t.startswith(f"Episode {number} "))
                assert steps["script"] == 1 and steps["audio"] == 1, (drill, number, steps)
            assert not git(origin, "for-each-ref", "refs/acbatch/locks/").strip()
    drill_report(
        f"git state SIGKILL drill: {DRILLS} kills, every saved task id on the remote after "
        f"`acbatch state push`; {uncertain_total} episodes caught between create and save, "
        "adopted or resent on the user's word; one script and one audio task per episode"
    )


@pytest.mark.slow
def test_a_kill_between_create_and_save_is_adopted_with_no_second_task(tmp_path: Path) -> None:
    """The create is answered, then the process dies before saving the task id (the named
    crash point `after_create`): the episode is uncertain; the user finds the task in their
    account and adopts it, and a fresh clone finishes with one task per step."""
    with StrictDouble(script_latency=0.2, audio_latency=0.2) as double:
        origin, seed = make_remote(tmp_path, EPISODES, git={"push_interval": 0.2})
        use_the_doubles_voices(seed)
        work = clone(origin, tmp_path / "work")
        crashed = subprocess.run(
            [sys.executable, "-m", "acbatch", "-C", str(work), "run", "--no-render", "-j", "1"],
            env={**env_for(double.url), "ACBATCH_FAILPOINT": "after_create:2"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert crashed.returncode == -9, crashed.stderr
        pushed = run_acbatch(work, double.url, "state", "push")
        assert pushed.wait(timeout=120) == 0
        fresh = clone(origin, tmp_path / "fresh")
        planned = subprocess.run(
            [sys.executable, "-m", "acbatch", "-C", str(fresh), "plan", "--json"],
            env=env_for(double.url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        uncertain = [
            e["id"] for e in json.loads(planned.stdout)["episodes"] if e["action"] == "uncertain"
        ]
        assert len(uncertain) == 1, planned.stdout
        made = tasks_by_episode(double)
        steps = [s for (i, s) in made if i == uncertain[0]]
        step = "audio" if "audio" in steps else "script"
        task = made[(uncertain[0], step)][-1]
        adopted = run_acbatch(
            fresh, double.url, "adopt", uncertain[0], f"--{step}-task", task, "--no-render"
        )
        _, err = adopted.communicate(timeout=120)
        assert adopted.returncode == 0, err
        finishing = run_acbatch(fresh, double.url, "run", "--no-render")
        _, err = finishing.communicate(timeout=120)
        assert finishing.returncode == 0, err
        for counts in tasks_per_episode(double).values():
            assert counts["script"] == 1 and counts["audio"] == 1, counts
