"""The runner against a live sandbox: resumable, idempotent, never paying twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acbatch import codes
from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.engine import Outcome
from acbatch.runner.state import Phase, StateStore
from acbatch.sandbox.faults import FaultPlan
from tests.conftest import plan_project, text_episode, write_show


def run(config: Path, base_url: str, **request: Any) -> Any:
    project = load_project(config)
    assert not project.errors, [str(p) for p in project.errors]
    request.setdefault("render", False)
    request.setdefault("seed", 7)
    request.setdefault("poll_initial", 0.05)
    return run_project(project, RunRequest(base_url=base_url, **request))


def states(config: Path) -> dict[str, Any]:
    store = StateStore(config.parent / "state")
    return {i: store.load(i) for i in store.all_ids()}


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", "test-key-123")


def test_a_batch_finishes_and_a_second_run_makes_no_requests(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 5)})
    first = run(config, server.url)
    assert [r.outcome for r in first.summary.results] == [Outcome.DONE] * 4
    assert first.summary.exit_code == 0
    for state in states(config).values():
        assert state.phase == Phase.DOWNLOADED
        assert (tmp_path / state.download.path).stat().st_size == state.download.bytes
        assert state.credits_charged == 10
        assert state.script.global_id and state.audio.global_id
    before = server.stats()["requests"]
    second = run(config, server.url)
    assert second.summary.requests == 0
    assert server.stats()["requests"] == before
    assert all(r.outcome == Outcome.DONE for r in second.summary.results)


def test_state_files_are_sorted_versioned_json_without_the_key(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    run(config, server.url)
    text = (tmp_path / "state" / "ep-1.json").read_text()
    data = json.loads(text)
    assert data["version"] == 1 and data["phase"] == "downloaded"
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "test-key-123" not in text


@pytest.mark.slow
def test_faults_on_every_retryable_path_still_create_each_task_once(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    faults = FaultPlan(
        error_rates={codes.RATE_LIMITED: 0.1, codes.CONCURRENCY_LIMITED: 0.1},
        drop_before=0.1,
        seed=11,
    )
    server = sandbox_factory(synthesize=False, faults=faults)
    polls_5xx = sandbox_factory  # noqa: F841 - documented below
    config = write_show(
        tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 51)}, api={"jobs": 8}
    )
    # 5xx on polls: the same sandbox answers 503 to 10% of status calls.
    server.backend.settings.faults = faults.with_updates(http_5xx=0.1)
    result = run(config, server.url, jobs=8)
    outcomes = {r.id: r.outcome for r in result.summary.results}
    assert set(outcomes.values()) == {Outcome.DONE}, result.summary.to_json()
    stats = server.stats()
    assert stats["tasks_created"] == {"script": 50, "audio": 50}
    assert stats["duplicate_work"] == []
    assert stats["faults"].get("drop_before", 0) > 0
    assert stats["faults"].get("5xx", 0) > 0
    assert stats["faults"].get(str(codes.RATE_LIMITED), 0) > 0


def test_drops_after_a_create_end_uncertain_and_are_resent_only_on_request(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False, faults=FaultPlan(drop_after=0.25, seed=3))
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 13)})
    first = run(config, server.url)
    uncertain = [r.id for r in first.summary.results if r.outcome == Outcome.UNCERTAIN]
    assert uncertain, "the seed should drop some creates"
    assert first.summary.exit_code == 1
    assert server.stats()["duplicate_work"] == []
    for episode_id in uncertain:
        assert "--retry-uncertain" in states(config)[episode_id].error["message"]

    created = dict(server.stats()["tasks_created"])
    again = run(config, server.url)  # a plain rerun must not resend them
    assert {r.id for r in again.summary.results if r.outcome == Outcome.UNCERTAIN} >= set(
        uncertain
    ) - {r.id for r in again.summary.results if r.outcome == Outcome.DONE}
    assert server.stats()["duplicate_work"] == []

    server.backend.settings.faults = FaultPlan()
    retried = run(config, server.url, retry_uncertain=frozenset(states(config)))
    assert all(r.outcome == Outcome.DONE for r in retried.summary.results)
    assert sum(server.stats()["tasks_created"].values()) > sum(created.values())


def test_a_create_interrupted_before_its_id_was_saved_is_uncertain(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    from acbatch.runner import bodies
    from acbatch.runner.state import EpisodeState, StepRecord

    episode = load_project(config).episode("ep-1")
    record = StepRecord(
        fingerprint=bodies.script_fingerprint(episode), sent_at="2026-01-01T00:00:00Z"
    )
    interrupted = EpisodeState(id="ep-1", phase=Phase.SCRIPT_SENDING, guid="g", script=record)
    StateStore(state_dir).save(interrupted)
    result = run(config, server.url)
    assert result.summary.results[0].outcome == Outcome.UNCERTAIN
    assert server.stats()["requests"] == {}
    resent = run(config, server.url, retry_uncertain=frozenset({"ep-1"}))
    assert resent.summary.results[0].outcome == Outcome.DONE


def test_editing_overrides_redoes_only_audio_and_publish_only_renders(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1), "ep-2": text_episode(2)})
    run(config, server.url, render=True)
    assert server.stats()["tasks_created"] == {"script": 2, "audio": 2}

    spec_path = tmp_path / "specs" / "ep-1.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["overrides"] = {"replace": [{"find": "tide", "replace": "TIDE"}], "title": "New"}
    spec_path.write_text(yaml.safe_dump(spec))
    project = load_project(config)
    plan = {p.id: p.action for p in plan_project(project, StateStore(tmp_path / "state"))}
    assert plan == {"ep-1": "create_audio", "ep-2": "done"}
    run(config, server.url, render=True)
    assert server.stats()["tasks_created"] == {"script": 2, "audio": 3}
    audio_requests = [t.request for t in server.backend.tasks() if t.kind == "audio"]
    assert any(r["title"] == "New" for r in audio_requests)
    assert any("TIDE" in turn["text"] for r in audio_requests for turn in r["podcast_script"])

    spec["publish"]["season"] = 2
    spec_path.write_text(yaml.safe_dump(spec))
    project = load_project(config)
    plan = {p.id: p.action for p in plan_project(project, StateStore(tmp_path / "state"))}
    assert plan["ep-1"] == "render"
    requests_before = dict(server.stats()["requests"])
    run(config, server.url, render=True)
    assert states(config)["ep-1"].phase == Phase.RENDERED
    assert server.stats()["requests"] == requests_before

    spec["style"] = "news-report"
    spec_path.write_text(yaml.safe_dump(spec))
    plan = {
        p.id: p.action for p in plan_project(load_project(config), StateStore(tmp_path / "state"))
    }
    assert plan["ep-1"] == "create_script"
    run(config, server.url)
    assert server.stats()["tasks_created"] == {"script": 3, "audio": 4}


def test_review_gate_waits_for_approval_and_uses_the_edited_script(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    from acbatch.runner.review import approve

    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1, review="required")})
    first = run(config, server.url)
    assert first.summary.results[0].outcome == Outcome.REVIEW
    assert first.summary.exit_code == 0
    assert server.stats()["tasks_created"] == {"script": 1}
    review_file = tmp_path / "specs" / "ep-1.script.yaml"
    text = review_file.read_text()
    assert "approved: false" in text
    edited = yaml.safe_load(text)
    edited["script"][0]["text"] = "Edited opening line from the producer."
    review_file.write_text(yaml.safe_dump(edited, allow_unicode=True, sort_keys=False))
    again = run(config, server.url)
    assert again.summary.results[0].outcome == Outcome.REVIEW
    assert server.stats()["tasks_created"] == {"script": 1}

    approve(load_project(config).episode("ep-1"))
    assert "approved: true" in review_file.read_text()
    done = run(config, server.url)
    assert done.summary.results[0].outcome == Outcome.DONE
    audio = next(t.request for t in server.backend.tasks() if t.kind == "audio")
    assert audio["podcast_script"][0]["text"] == "Edited opening line from the producer."


def test_an_invalid_review_file_is_a_clear_error(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1, review="required")})
    run(config, server.url)
    review_file = tmp_path / "specs" / "ep-1.script.yaml"
    review_file.write_text(
        review_file.read_text().replace("approved: false", "approved: true\nbogus: 1")
    )
    result = run(config, server.url)
    assert result.summary.results[0].outcome == Outcome.FAILED
    assert "ep-1.script.yaml" in result.summary.results[0].message
    assert server.stats()["tasks_created"] == {"script": 1}


def test_budget_guard_sends_nothing_over_max_credits(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 4)})
    result = run(config, server.url, max_credits=20, jobs=1)
    outcomes = [r.outcome for r in result.summary.results]
    assert outcomes.count(Outcome.DONE) == 2 and outcomes.count(Outcome.BUDGET) == 1
    assert result.summary.exit_code == 4
    assert server.stats()["tasks_created"] == {"script": 2, "audio": 2}


def test_out_of_credits_stops_further_creates(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False, credits=15)
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 5)})
    result = run(config, server.url, jobs=1)
    outcomes = [r.outcome for r in result.summary.results]
    assert outcomes[0] == Outcome.DONE
    assert Outcome.NO_CREDITS in outcomes
    assert result.summary.exit_code == 4


def test_a_task_past_its_deadline_times_out_and_resumes_without_a_new_create(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False, script_delay=1.0)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    first = run(config, server.url, deadline=0.3)
    assert first.summary.results[0].outcome == Outcome.TIMED_OUT
    assert first.summary.exit_code == 1
    second = run(config, server.url)
    assert second.summary.results[0].outcome == Outcome.DONE
    assert server.stats()["tasks_created"] == {"script": 1, "audio": 1}


def test_unknown_task_is_reported_clearly(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    from acbatch.runner import bodies
    from acbatch.runner.state import EpisodeState, StepRecord

    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    episode = load_project(config).episode("ep-1")
    state = EpisodeState(
        id="ep-1",
        phase=Phase.SCRIPT_REQUESTED,
        guid="g",
        script=StepRecord(
            fingerprint=bodies.script_fingerprint(episode),
            global_id="0000-not-a-task",
            service=server.url,
        ),
    )
    StateStore(tmp_path / "state").save(state)
    result = run(config, server.url)
    # Asked a few times, then lost: never re-created without the user's word.
    assert result.summary.results[0].outcome == Outcome.LOST
    assert "101008" in result.summary.results[0].message
    assert "acbatch retry ep-1" in result.summary.results[0].message
    assert server.stats()["tasks"] == 0, "nothing was re-created"
    assert StateStore(tmp_path / "state").load("ep-1").phase == Phase.LOST


def test_failed_tasks_are_recorded_with_the_reason_and_rerun(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False, faults=FaultPlan(fail_task=1.0))
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    result = run(config, server.url)
    assert result.summary.results[0].outcome == Outcome.FAILED
    state = states(config)["ep-1"]
    assert state.error["step"] == "script" and "injected failure" in state.error["message"]
    server.backend.settings.faults = FaultPlan()
    assert run(config, server.url).summary.results[0].outcome == Outcome.DONE


def test_an_invalid_key_stops_the_run_with_a_clear_message(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False, keys=frozenset({"another-key"}))
    config = write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 4)})
    result = run(config, server.url)
    assert result.summary.aborted and "Invalid API key" in result.summary.aborted
    assert "test-key-123" not in json.dumps(result.summary.to_json())
    assert all(r.outcome == Outcome.ABORTED for r in result.summary.results)


def test_two_shards_split_a_show_into_disjoint_complete_halves(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    from acbatch.runner.batch import in_shard, parse_shard

    server = sandbox_factory(synthesize=False)
    episodes = {f"show-{i:02d}": text_episode(i) for i in range(40)}
    config = write_show(tmp_path, episodes, api={"jobs": 8})
    first = run(config, server.url, shard=parse_shard("1/2"), jobs=8)
    first_ids = {r.id for r in first.summary.results}
    assert first_ids == {i for i in episodes if in_shard(i, (1, 2))}
    assert 5 < len(first_ids) < 35, "the hash should split 40 ids roughly in half"
    assert set(states(config)) == first_ids
    second = run(config, server.url, shard=parse_shard("2/2"), jobs=8)
    second_ids = {r.id for r in second.summary.results}
    assert first_ids.isdisjoint(second_ids) and first_ids | second_ids == set(episodes)
    assert all(r.outcome == Outcome.DONE for r in first.summary.results + second.summary.results)
    assert {s.phase for s in states(config).values()} == {Phase.DOWNLOADED}
    assert server.stats()["tasks_created"] == {"script": 40, "audio": 40}


@pytest.mark.parametrize("value", ["0/2", "3/2", "a/b", "2", "1/0"])
def test_bad_shard_values_are_refused(value: str) -> None:
    from acbatch.runner.batch import parse_shard

    with pytest.raises(ValueError):
        parse_shard(value)


def test_a_create_refused_for_good_fails_the_episode_cleanly(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    plan = FaultPlan(error_rates={codes.CONCURRENCY_LIMITED: 1.0}, endpoints=(codes.SCRIPT_CREATE,))
    server = sandbox_factory(synthesize=False, faults=plan)
    config = write_show(tmp_path, {"ep-1": text_episode(1)}, api={"jobs": 2, "retries": 1})
    result = run(config, server.url)
    outcome = result.summary.results[0]
    assert outcome.outcome == Outcome.FAILED, outcome
    assert "concurrent" in outcome.message and "internal error" not in outcome.message
    state = states(config)["ep-1"]
    assert state.phase == Phase.FAILED and state.error["step"] == "script"
    assert server.stats()["tasks_created"] == {}
