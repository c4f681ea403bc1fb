"""`plan` announces exactly what `run` does, and no paid create escapes the plan, the budget or
the user's word. Every test drives the real command line against the strict API double
(tests/double.py), whose create counters are the witness."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from acbatch.runner.state import Phase, StateStore
from tests.conftest import acbatch, text_episode, write_show
from tests.double import Fault, StrictDouble

KEY = "double-key-4242"


def acbatch_with(root: Path, double: StrictDouble, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
    return acbatch("-C", str(root), *args, env=env, timeout=120)


def show(root: Path, count: int = 1, **spec: Any) -> Path:
    api = {"jobs": 4, "polling": {"initial": 0.05, "max_interval": 0.2}}
    return write_show(
        root, {f"ep-{i}": text_episode(i, **spec) for i in range(1, count + 1)}, api=api
    )


def source(number: int) -> str:
    return str(text_episode(number)["source"]["text"])  # type: ignore[index]


def plan(root: Path, double: StrictDouble, *args: str) -> dict[str, dict[str, Any]]:
    result = acbatch_with(root, double, "plan", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {e["id"]: e for e in json.loads(result.stdout)["episodes"]}


def creates_since(double: StrictDouble, before: dict[str, list[str]]) -> dict[str, list[str]]:
    after = double.creates_by_source()
    return {k: v[len(before.get(k, [])) :] for k, v in after.items() if v[len(before.get(k, [])) :]}


def first_create(planned: dict[str, Any]) -> str | None:
    return {"create_script": "script", "create_audio": "audio"}.get(planned["action"])


def state_of(root: Path, episode: str = "ep-1") -> Any:
    return StateStore(root / "state").load(episode)


def edit_state(root: Path, episode: str = "ep-1", **changes: Any) -> None:
    path = root / "state" / f"{episode}.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        target = data
        *parents, last = key.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    path.write_text(json.dumps(data))


def edit_spec(root: Path, episode: str = "ep-1", **changes: Any) -> None:
    path = root / "specs" / f"{episode}.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))


@pytest.fixture
def double() -> Any:
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as server:
        yield server


def finished_show(root: Path, double: StrictDouble, count: int = 1, **spec: Any) -> None:
    show(root, count, **spec)
    result = acbatch_with(root, double, "run")
    assert result.returncode == 0, result.stderr


def test_an_uncertain_episode_whose_overrides_change_is_not_paid_for(
    tmp_path: Path, double: StrictDouble
) -> None:
    finished_show(tmp_path, double)
    edit_state(tmp_path, phase="uncertain", failed_step="audio")
    edit_spec(tmp_path, overrides={"replace": [{"find": "Welcome", "replace": "Hello"}]})
    planned = plan(tmp_path, double)["ep-1"]
    assert planned["action"] == "uncertain" and not planned["paid"]
    before = double.creates_by_source()
    result = acbatch_with(tmp_path, double, "run")
    assert result.returncode == 1
    assert creates_since(double, before) == {}
    assert state_of(tmp_path).phase == Phase.UNCERTAIN


def test_a_timed_out_episode_whose_overrides_change_does_what_plan_says(
    tmp_path: Path, double: StrictDouble
) -> None:
    finished_show(tmp_path, double)
    edit_state(tmp_path, phase="timed_out", failed_step="audio")
    edit_spec(tmp_path, overrides={"replace": [{"find": "Welcome", "replace": "Hello"}]})
    planned = plan(tmp_path, double)["ep-1"]
    assert planned["action"] == "create_audio" and "overrides.replace changed" in planned["reason"]
    before = double.creates_by_source()
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert creates_since(double, before) == {source(1): ["audio"]}


@pytest.mark.slow
def test_max_credits_zero_sends_no_audio_after_an_approved_review(
    tmp_path: Path, double: StrictDouble
) -> None:
    show(tmp_path, review="required")
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert acbatch_with(tmp_path, double, "approve", "ep-1").returncode == 0
    planned = plan(tmp_path, double, "--max-credits", "0")["ep-1"]
    assert planned["action"] == "over_budget" and not planned["paid"]
    before = double.creates_by_source()
    result = acbatch_with(tmp_path, double, "run", "--max-credits", "0")
    assert result.returncode == 4, result.stderr
    assert creates_since(double, before) == {}
    # Within the budget, the plan's create is the run's.
    planned = plan(tmp_path, double, "--max-credits", "10")["ep-1"]
    assert planned["action"] == "create_audio" and planned["credits"]["high"] == 10
    assert acbatch_with(tmp_path, double, "run", "--max-credits", "10").returncode == 0
    assert creates_since(double, before) == {source(1): ["audio"]}


def test_a_fresh_clone_without_output_fetches_audio_again_for_free(
    tmp_path: Path, double: StrictDouble
) -> None:
    finished_show(tmp_path, double, count=3)
    feed = (tmp_path / "output" / "feed.xml").read_text()
    shutil.rmtree(tmp_path / "output")
    render = acbatch_with(tmp_path, double, "render")
    assert render.returncode == 1 and "acbatch run" in render.stderr
    assert "Traceback" not in render.stderr
    assert not (tmp_path / "output" / "feed.xml").exists(), "no feed that drops episodes"
    assert {e["action"] for e in plan(tmp_path, double).values()} == {"download"}
    before, downloads = double.creates_by_source(), len(double.downloads)
    result = acbatch_with(tmp_path, double, "run")
    assert result.returncode == 0, result.stderr
    assert creates_since(double, before) == {}
    assert len(double.downloads) - downloads == 3
    again = (tmp_path / "output" / "feed.xml").read_text()
    strip = [line for line in feed.splitlines() if "lastBuildDate" not in line]
    assert [line for line in again.splitlines() if "lastBuildDate" not in line] == strip


@pytest.mark.slow
def test_audio_gone_everywhere_is_audio_lost_and_needs_the_users_word(
    tmp_path: Path, double: StrictDouble
) -> None:
    finished_show(tmp_path, double)
    shutil.rmtree(tmp_path / "output")
    double.gone.add(state_of(tmp_path).audio.global_id)
    # The published site (show.base_url) answers 404 too: point it at the double (a loopback
    # base_url is no place to publish, so these runs do not render).
    config = tmp_path / "acbatch.yaml"
    data = yaml.safe_load(config.read_text())
    data["show"]["base_url"] = double.url + "/site/"
    config.write_text(yaml.safe_dump(data))
    before = double.creates_by_source()
    result = acbatch_with(tmp_path, double, "run", "--no-render")
    assert result.returncode == 1
    assert "acbatch retry ep-1" in result.stderr
    assert state_of(tmp_path).phase == Phase.AUDIO_LOST
    assert plan(tmp_path, double)["ep-1"]["action"] == "audio_lost"
    assert creates_since(double, before) == {}
    assert acbatch_with(tmp_path, double, "run", "--no-render").returncode == 1
    assert creates_since(double, before) == {}
    retried = acbatch_with(tmp_path, double, "retry", "ep-1", "--no-render")
    assert retried.returncode == 0, retried.stderr
    assert creates_since(double, before) == {source(1): ["audio"]}


@pytest.mark.slow
def test_a_new_script_invalidates_the_old_approval(tmp_path: Path, double: StrictDouble) -> None:
    show(tmp_path, review="required")
    acbatch_with(tmp_path, double, "run")
    review = tmp_path / "specs" / "ep-1.script.yaml"
    review.write_text(review.read_text().replace("Thanks for having me.", "Thanks, Ava."))
    assert acbatch_with(tmp_path, double, "approve", "ep-1").returncode == 0
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert double.created("audio") == 1
    edit_spec(tmp_path, source={"text": "A new source about octopus minds and their arms."})
    planned = plan(tmp_path, double)["ep-1"]
    assert planned["action"] == "create_script" and "source changed" in planned["reason"]
    before = double.creates_by_source()
    result = acbatch_with(tmp_path, double, "run")
    assert result.returncode == 0, result.stderr
    made = creates_since(double, before)
    assert list(made.values()) == [["script"]], "no audio from the stale approval"
    fresh = yaml.safe_load(review.read_text())
    assert (
        fresh["approved"] is False and fresh["script_task"] == state_of(tmp_path).script.global_id
    )
    kept = tmp_path / "specs" / "ep-1.previous.script.yaml"
    assert "Thanks, Ava." in kept.read_text()
    assert plan(tmp_path, double)["ep-1"]["action"] == "wait_review"


@pytest.mark.slow
def test_100100_on_a_status_call_keeps_the_task(tmp_path: Path, double: StrictDouble) -> None:
    show(tmp_path)
    double.status_faults[("audio", 1)] = Fault(code=100100)
    result = acbatch_with(tmp_path, double, "run")
    assert result.returncode == 4, result.stderr
    assert state_of(tmp_path).phase == Phase.AUDIO_REQUESTED
    assert plan(tmp_path, double)["ep-1"]["action"] == "poll_audio"
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert double.created("script") == 1 and double.created("audio") == 1


@pytest.mark.slow
def test_101008_is_asked_again_then_lost_and_never_recreated_unasked(
    tmp_path: Path, double: StrictDouble
) -> None:
    show(tmp_path, 2)
    for call in (1, 2, 3):
        double.status_faults[("script", call)] = Fault(code=101008)
    # ep-2's script is answered 101008 once and then found: that costs nothing.
    result = acbatch_with(tmp_path, double, "run", "-j", "1", "ep-1")
    assert result.returncode == 1
    assert state_of(tmp_path).phase == Phase.LOST
    assert plan(tmp_path, double)["ep-1"]["action"] == "lost"
    assert acbatch_with(tmp_path, double, "run", "ep-1").returncode == 1
    assert double.created("script") == 1
    double.status_faults.clear()
    double.status_faults[("script", 1)] = Fault(code=101008)
    assert acbatch_with(tmp_path, double, "run", "ep-2").returncode == 0
    assert double.created("script") == 2
    double.status_faults.clear()
    assert acbatch_with(tmp_path, double, "retry", "ep-1").returncode == 0
    assert double.created("script") == 3 and state_of(tmp_path).phase == Phase.RENDERED


@pytest.mark.parametrize(
    "fault", [Fault(html=True), Fault(status="processing")], ids=["html-200", "unknown-status"]
)
@pytest.mark.parametrize("step", ["script", "audio"])
def test_unreadable_status_answers_keep_the_task(
    tmp_path: Path, double: StrictDouble, fault: Fault, step: str
) -> None:
    show(tmp_path)
    for call in range(1, 12):
        double.status_faults[(step, call)] = fault
    assert acbatch_with(tmp_path, double, "run").returncode == 1
    assert state_of(tmp_path).phase in (Phase.SCRIPT_REQUESTED, Phase.AUDIO_REQUESTED)
    assert plan(tmp_path, double)["ep-1"]["action"] == f"poll_{step}"
    double.status_faults.clear()
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert double.created("script") == 1 and double.created("audio") == 1


def test_a_passing_server_error_on_a_status_call_is_asked_again(
    tmp_path: Path, double: StrictDouble
) -> None:
    show(tmp_path)
    for call in (1, 2):
        double.status_faults[("audio", call)] = Fault(http=502)
    assert acbatch_with(tmp_path, double, "run").returncode == 0
    assert double.created("script") == 1 and double.created("audio") == 1


@pytest.mark.slow
def test_a_failed_episode_is_retried_at_most_max_attempts_times(
    tmp_path: Path, double: StrictDouble
) -> None:
    show(tmp_path)
    double.fail_tasks.add(source(1))
    counts = []
    for _ in range(4):
        acbatch_with(tmp_path, double, "run")
        counts.append(double.created("script"))
    assert counts == [1, 2, 3, 3]
    planned = plan(tmp_path, double)["ep-1"]
    assert planned["action"] == "failed" and planned["attempts"] == "3 failed of 3 allowed"
    assert "acbatch retry ep-1" in planned["reason"]
    double.fail_tasks.clear()
    result = acbatch_with(tmp_path, double, "retry", "ep-1")
    assert result.returncode == 0, result.stderr
    assert double.created("script") == 4 and double.created("audio") == 1


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_new_creates_at_once_and_the_next_run_finishes(
    tmp_path: Path, sent: signal.Signals, code: int
) -> None:
    with StrictDouble(script_latency=30, audio_latency=30, concurrency=8) as double:
        show(tmp_path, 20)
        env = {**os.environ, "AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
        process = subprocess.Popen(
            [sys.executable, "-m", "acbatch", "-C", str(tmp_path), "run", "-j", "8"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while double.created("script") < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert double.created("script") == 8
        signalled = time.monotonic()
        process.send_signal(sent)
        _out, err = process.communicate(timeout=30)
        took = time.monotonic() - signalled
        assert process.returncode == code, err
        assert took < 3, f"took {took:.1f}s to stop"
        assert double.creates_after(signalled) == 0
        assert "next run resumes" in err and "Traceback" not in err
        for task in double.tasks.values():
            task.latency = 0.05
        double.script_latency = double.audio_latency = 0.05
        result = acbatch_with(tmp_path, double, "run")
        assert result.returncode == 0, result.stderr
        assert double.created("script") == 20 and double.created("audio") == 20
        assert all(len(steps) == 2 for steps in double.creates_by_source().values())


def test_costs_are_kept_per_charge_and_a_monthly_budget_holds_across_runs(
    tmp_path: Path, double: StrictDouble
) -> None:
    finished_show(tmp_path, double, count=2)
    assert acbatch_with(tmp_path, double, "redo", "ep-1", "--audio-only").returncode == 0
    costs = json.loads(acbatch_with(tmp_path, double, "costs", "--json").stdout)
    assert [c["episode"] for c in costs["charges"]].count("ep-1") == 2
    assert costs["total"] == 30 and costs["by_episode"] == {"ep-1": 20, "ep-2": 10}
    status = json.loads(acbatch_with(tmp_path, double, "status", "--json").stdout)
    assert status["credits_charged"] == 30
    config = tmp_path / "acbatch.yaml"
    data = yaml.safe_load(config.read_text())
    data["api"]["budget"] = {"monthly": 35}
    config.write_text(yaml.safe_dump(data))
    edit_spec(tmp_path, "ep-2", overrides={"replace": [{"find": "Welcome", "replace": "Hi"}]})
    planned = plan(tmp_path, double)["ep-2"]
    assert planned["action"] == "over_budget"
    before = double.creates_by_source()
    assert acbatch_with(tmp_path, double, "run").returncode == 4
    assert creates_since(double, before) == {}


@pytest.mark.parametrize("how", ["overrides-only redo", "resume at script_ready"])
def test_max_credits_zero_sends_no_audio_for_a_script_made_earlier(
    tmp_path: Path, double: StrictDouble, how: str
) -> None:
    finished_show(tmp_path, double)
    if how == "overrides-only redo":
        edit_spec(tmp_path, overrides={"replace": [{"find": "Welcome", "replace": "Hello"}]})
    else:
        edit_state(tmp_path, phase="script_ready", audio={})
    planned = plan(tmp_path, double, "--max-credits", "0")["ep-1"]
    assert planned["action"] == "over_budget"
    before = double.creates_by_source()
    result = acbatch_with(tmp_path, double, "run", "--max-credits", "0")
    assert result.returncode == 4, result.stderr
    assert creates_since(double, before) == {}
