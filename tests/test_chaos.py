"""Crash and fault drills: named crash points, and a soak with every fault class at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3

from acbatch import codes
from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.engine import Outcome
from acbatch.runner.failpoints import NAMES
from acbatch.runner.state import Phase, StateStore
from acbatch.sandbox.faults import FaultPlan
from tests.conftest import acbatch, text_episode, write_show

KEY = "chaos-key-7777"


def run_cli(root: Path, url: str, *args: str, failpoint: str | None = None) -> Any:
    env = {"AUDIOCLEANER_API_BASE": url, "AUDIOCLEANER_API_KEY": KEY}
    if failpoint:
        env["ACBATCH_FAILPOINT"] = failpoint
    return acbatch("-C", str(root), "run", "--no-render", "-j", "1", *args, env=env, timeout=120)


def check_disk(root: Path) -> dict[str, Any]:
    """Every state file parses; every MP3 at a final name is whole."""
    store = StateStore(root / "state")
    states = {i: store.load(i) for i in store.all_ids()}
    for mp3 in (root / "output").rglob("*.mp3"):
        assert MP3(mp3).info.length > 0
    return states


@pytest.mark.parametrize("point", NAMES)
def test_a_kill_at_each_named_crash_point_converges_without_double_billing(
    tmp_path: Path, sandbox_factory: Any, point: str, drill_report: Any
) -> None:
    server = sandbox_factory(synthesize=False)
    episodes = {f"ep-{i}": text_episode(i) for i in range(1, 4)}
    write_show(tmp_path, episodes, api={"jobs": 1, "polling": {"initial": 0.05}})
    crashed = run_cli(tmp_path, server.url, failpoint=f"{point}:2")
    assert crashed.returncode == -9, crashed.stderr
    states = check_disk(tmp_path)
    assert server.stats()["duplicate_work"] == []

    resumed = run_cli(tmp_path, server.url)
    states = check_disk(tmp_path)
    uncertain = [s for s in states.values() if s.phase == Phase.UNCERTAIN]
    if point in ("before_create", "after_create"):
        # The create's answer was never saved: the episode must surface, not be resent.
        assert len(uncertain) == 1 and resumed.returncode == 1
        assert "--retry-uncertain" in uncertain[0].error["message"]
        assert server.stats()["duplicate_work"] == []
        created_before_retry = sum(server.stats()["tasks_created"].values())
        retried = run_cli(tmp_path, server.url, "--retry-uncertain", uncertain[0].id)
        assert retried.returncode == 0, retried.stderr
        extra = sum(server.stats()["tasks_created"].values()) - created_before_retry
        assert extra >= 1
        if point == "after_create":
            # The documented window: the first create did take effect, the retry pays again.
            assert len(server.stats()["duplicate_work"]) == 1
        else:
            assert server.stats()["duplicate_work"] == []
    else:
        assert not uncertain and resumed.returncode == 0, resumed.stderr
        assert server.stats()["duplicate_work"] == []
    states = check_disk(tmp_path)
    assert {s.phase for s in states.values()} == {Phase.DOWNLOADED}
    assert server.stats()["tasks_created"]["script"] >= 3
    drill_report(
        f"crash point {point}: killed, resumed, {len(uncertain)} uncertain, "
        f"{len(server.stats()['duplicate_work'])} paid twice on the user's word"
    )


@pytest.mark.slow
def test_soak_every_fault_class_at_once(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, drill_report: Any
) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)
    faults = FaultPlan(
        error_rates={codes.RATE_LIMITED: 0.05, codes.CONCURRENCY_LIMITED: 0.05},
        http_5xx=0.05,
        drop_before=0.05,
        fail_task=0.03,
        latency=0.02,
        latency_seconds=0.3,
        seed=300,
    )
    server = sandbox_factory(synthesize=False, faults=faults, script_delay=0.02, audio_delay=0.02)
    count = 300
    config = write_show(tmp_path, {f"ep-{i:03d}": text_episode(i) for i in range(count)})
    project = load_project(config)
    assert not project.errors and len(project.episodes) == count
    request = RunRequest(base_url=server.url, render=False, jobs=16, seed=1, poll_initial=0.02)
    first = run_project(project, request).summary
    outcomes = {r.id: r.outcome for r in first.results}
    assert set(outcomes.values()) <= {Outcome.DONE, Outcome.FAILED}
    failed = [r for r in first.results if r.outcome == Outcome.FAILED]
    for result in failed:
        assert "injected failure" in result.message
    stats = server.stats()
    assert stats["duplicate_work"] == []
    for fault in ("5xx", "drop_before", "fail_task", "latency", "101003", "101004"):
        assert stats["faults"].get(fault, 0) > 0, fault

    server.backend.settings.faults = FaultPlan()
    second = run_project(project, request).summary
    assert {r.outcome for r in second.results} == {Outcome.DONE}
    states = StateStore(tmp_path / "state")
    assert all(states.load(i).phase == Phase.DOWNLOADED for i in outcomes)
    drill_report(
        f"soak: {count} episodes, {len(failed)} failed tasks retried on the rerun, "
        f"faults injected {dict(stats['faults'])}, {first.requests + second.requests} requests"
    )
