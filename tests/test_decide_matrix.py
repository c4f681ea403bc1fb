"""The decision table, enumerated: every phase, failed step, input change, review state, audio
file state and user's word.

Two levels:
- pure: decide() over the whole space, checking the rules that protect money (no paid create for
  an uncertain, lost or exhausted episode without the user's word, never over the budget, never
  from a stale approval) and that every move it makes is an edge of the transition table;
- real: a matrix of situations built from a finished show against the strict API double, where
  the first create the double receives must be the one `plan` announced.

Together they observe every edge that runs take. The table must be exactly those edges: removing
an edge makes a run or a decision illegal, adding one leaves it unobserved; both fail here.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.decide import PAID_ACTIONS, Action, Facts, Review, Word, decide
from acbatch.runner.state import (
    EDGES,
    Download,
    EpisodeState,
    Mastered,
    Phase,
    StateStore,
    StepRecord,
)
from tests.conftest import plan_project, text_episode, write_show
from tests.double import Fault, StrictDouble

KEY = "matrix-key-5151"
FACTS = Facts(
    script="s1",
    audio="a1",
    audio_reviewed="a1r",
    render="r1",
    credits=(10, 20),
    draft=False,
    mastering="m1",
)
CHANGES = {
    "none": FACTS,
    "step1": replace(FACTS, script="s2", audio="a2", audio_reviewed="a2r"),
    "step2": replace(FACTS, audio="a2", audio_reviewed="a2r"),
    "publish": replace(FACTS, render="r2"),
    "mastering": replace(FACTS, mastering="m2"),
}
REVIEWS = {
    "none": Review(),
    "missing": Review(required=True, file_name="x.script.yaml"),
    "awaiting": Review(required=True, exists=True, script_task="t-script", file_name="x"),
    "approved": Review(required=True, exists=True, approved=True, script_task="t-script"),
    "stale": Review(required=True, exists=True, approved=True, script_task="t-old"),
    "invalid": Review(required=True, exists=True, problem="bad", file_name="x"),
}
WORDS = {
    "none": Word(),
    "retry_uncertain": Word(retry_uncertain=True),
    "retry": Word(retry=True),
    "redo": Word(redo="all"),
    "redo_audio": Word(redo="audio"),
    "adopt_script": Word(adopt=("script", "t-new")),
    "adopt_audio": Word(adopt=("audio", "t-new")),
}
PAST_SCRIPT = {
    Phase.SCRIPT_READY,
    Phase.AWAITING_REVIEW,
    Phase.AUDIO_SENDING,
    Phase.AUDIO_REQUESTED,
    Phase.AUDIO_READY,
    Phase.DOWNLOADED,
    Phase.RENDERED,
}
PAST_AUDIO = {Phase.AUDIO_READY, Phase.DOWNLOADED, Phase.RENDERED}


def state_in(phase: Phase, failed_step: str | None, failures: int) -> EpisodeState:
    """A realistic state in `phase` whose records were made for FACTS."""
    script_done = phase in PAST_SCRIPT or failed_step == "audio"
    audio_done = phase in PAST_AUDIO or phase == Phase.AUDIO_LOST
    state = EpisodeState(id="ep", phase=phase, failed_step=failed_step, failures=failures)
    if phase != Phase.NEW:
        state.script = StepRecord(
            fingerprint="s1",
            global_id="t-script",
            service="svc",
            result={"podcast_script": []} if script_done else None,
        )
    if script_done and phase not in (Phase.SCRIPT_READY, Phase.AWAITING_REVIEW):
        state.audio = StepRecord(
            fingerprint="a1",
            global_id="t-audio",
            service="svc",
            result={"file_url": "https://x/a.mp3"} if audio_done else None,
        )
    if phase in (Phase.DOWNLOADED, Phase.RENDERED):
        state.download = Download("output/a.original.mp3", 1, "0", 60.0)
        state.mastered = Mastered("output/a.mp3", "m1", 0.0, 60.0, 60.0, 1, source="0")
        state.render_fingerprint = "r1"
    return state


def failed_steps(phase: Phase) -> list[str | None]:
    if phase in (Phase.FAILED, Phase.UNCERTAIN, Phase.TIMED_OUT, Phase.LOST):
        return ["script", "audio"]
    if phase == Phase.AUDIO_LOST:
        return ["audio"]
    return [None]


def pure_space() -> list[tuple[Any, ...]]:
    space = []
    for phase in Phase:
        for step, failures, change, review, present, word, budget in itertools.product(
            failed_steps(phase),
            (1, 3) if phase == Phase.FAILED else (0,),
            CHANGES,
            REVIEWS,
            (True, False),
            WORDS,
            (None, 0),
        ):
            space.append((phase, step, failures, change, review, present, word, budget))
    return space


def walk_edges(start: Phase, moves: tuple[Any, ...]) -> list[tuple[Phase, Phase]]:
    edges, phase = [], start
    for move in moves:
        edges.append((phase, move.to))
        phase = move.to
    return edges


def test_decide_over_the_whole_space_protects_money_and_moves_only_along_edges() -> None:
    used: set[tuple[Phase, Phase]] = set()
    checked = 0
    for phase, step, failures, change, review, present, word, budget in pure_space():
        state = state_in(phase, step, failures)
        facts = CHANGES[change]
        decision = decide(
            state,
            facts,
            REVIEWS[review],
            audio_present=present,
            service="svc",
            word=WORDS[word],
            max_attempts=2,
            budget_left=budget,
            episode_id="ep",
        )
        where = (phase, step, failures, change, review, present, word, budget, decision)
        for edge in walk_edges(phase, decision.moves):
            assert edge in EDGES, where
            used.add(edge)
        for move in decision.moves:
            assert move.reset <= {"script", "audio", "failures"}, where
            if move.to == Phase.NEW and phase != Phase.NEW:
                assert {"script", "audio"} <= move.reset, where
        if decision.moves:
            assert decision.phase == decision.moves[-1].to, where
        paid = decision.action in PAID_ACTIONS
        users_word = WORDS[word] != Word()
        # Inputs as the work was done (an approval, new or stale, changes step 2's inputs).
        unchanged = change == "none" and review in ("none", "missing", "awaiting")
        if paid and budget == 0:
            assert decision.credits[1] == 0, where
        if phase in (Phase.UNCERTAIN, Phase.SCRIPT_SENDING, Phase.AUDIO_SENDING) and not (
            WORDS[word].retry_uncertain or WORDS[word].redo or WORDS[word].adopt
        ):
            assert not paid and decision.action == Action.UNCERTAIN, where
        if phase in (Phase.LOST, Phase.AUDIO_LOST) and unchanged and not users_word:
            assert not paid, where
        if phase == Phase.FAILED and failures > 2 and unchanged and not users_word:
            assert decision.action == Action.FAILED, where
        if review == "stale" and decision.action == Action.CREATE_AUDIO:
            pytest.fail(f"audio from a stale approval: {where}")
        if (
            phase in (Phase.DOWNLOADED, Phase.RENDERED)
            and not present
            and change in ("none", "publish")
            and review == "none"
            and not users_word
        ):
            assert decision.action == Action.DOWNLOAD and not paid, where
        if (
            phase in (Phase.DOWNLOADED, Phase.RENDERED)
            and present
            and change == "mastering"
            and review == "none"
            and not users_word
        ):
            # New jingles or loudness: made locally from the kept audio, never paid for.
            assert decision.action == Action.MASTER and not paid and not decision.moves, where
        checked += 1
    assert checked > 10_000
    DECIDE_EDGES.update(used)


DECIDE_EDGES: set[tuple[Phase, Phase]] = set()
RUN_EDGES: set[tuple[Phase, Phase]] = set()

# -- the real matrix ---------------------------------------------------------------------------

REAL_PHASES: list[tuple[Phase, str | None]] = [
    (Phase.NEW, None),
    (Phase.SCRIPT_SENDING, None),
    (Phase.SCRIPT_REQUESTED, None),
    (Phase.SCRIPT_READY, None),
    (Phase.AUDIO_SENDING, None),
    (Phase.AUDIO_REQUESTED, None),
    (Phase.AUDIO_READY, None),
    (Phase.DOWNLOADED, None),
    (Phase.RENDERED, None),
    (Phase.FAILED, "script"),
    (Phase.FAILED, "audio"),
    (Phase.UNCERTAIN, "script"),
    (Phase.UNCERTAIN, "audio"),
    (Phase.TIMED_OUT, "script"),
    (Phase.TIMED_OUT, "audio"),
    (Phase.LOST, "script"),
    (Phase.LOST, "audio"),
    (Phase.AUDIO_LOST, "audio"),
]


def set_phase(root: Path, phase: Phase, step: str | None) -> None:
    path = root / "state" / "ep-1.json"
    if phase == Phase.NEW:
        path.unlink()
        return
    data = json.loads(path.read_text())
    data["phase"] = phase.value
    data["failed_step"] = step
    data["failures"] = 1 if phase == Phase.FAILED else 0
    if phase in (Phase.SCRIPT_SENDING, Phase.SCRIPT_REQUESTED) or step == "script":
        data["script"]["result"] = None
        data["audio"] = {}
    if phase in (Phase.SCRIPT_READY, Phase.AWAITING_REVIEW, Phase.AUDIO_SENDING):
        data["audio"] = {}
    if phase == Phase.AUDIO_REQUESTED or (step == "audio" and phase != Phase.AUDIO_LOST):
        data["audio"]["result"] = None
    path.write_text(json.dumps(data))


def change_spec(root: Path, change: str) -> None:
    path = root / "specs" / "ep-1.yaml"
    spec = yaml.safe_load(path.read_text())
    if change == "step1":
        spec["source"] = {"text": "A different source about kelp forests and otters."}
    elif change == "step2":
        spec["overrides"] = {"replace": [{"find": "Welcome", "replace": "Hello"}]}
    elif change == "publish":
        spec["title"] = "A new title"
    path.write_text(yaml.safe_dump(spec))


def history_edges(root: Path) -> set[tuple[Phase, Phase]]:
    store = StateStore(root / "state")
    edges = set()
    for episode in store.all_ids():
        state = store.load(episode)
        assert state is not None
        for entry in state.history:
            edges.add((Phase(entry["from"]), Phase(entry["to"])))
    return edges


class Matrix:
    def __init__(self, tmp: Path, double: StrictDouble) -> None:
        self.tmp = tmp
        self.double = double
        self.count = 0

    def base(self, name: str, **spec: Any) -> Path:
        root = self.tmp / f"base-{name}"
        write_show(
            root,
            {"ep-1": text_episode(1, **spec)},
            api={"jobs": 2, "polling": {"initial": 0.02, "max_interval": 0.1}},
        )
        self.run(root)
        if spec.get("review") == "required":
            from acbatch.runner.review import approve

            approve(load_project(root / "acbatch.yaml").episodes[0])
            self.run(root)
        return root

    def run(self, root: Path, **request: Any) -> Any:
        project = load_project(root / "acbatch.yaml")
        assert not project.errors, [str(p) for p in project.errors]
        # Rendering is what the publish-only change and the base runs need; the rest skip it.
        request.setdefault("render", root.name.startswith("base") or "publish" in root.name)
        result = run_project(
            project,
            RunRequest(base_url=self.double.url, seed=3, handle_signals=False, **request),
        )
        for item in result.summary.results:
            assert "internal error" not in item.message, item.message
        RUN_EDGES.update(history_edges(root))
        return result

    def scenario(self, base: Path, change: str = "") -> Path:
        self.count += 1
        root = self.tmp / f"s{self.count}-{change}"
        shutil.copytree(base, root)
        return root

    def check(self, root: Path, words: dict[str, Word], **request: Any) -> None:
        """The first create `run` sends is the one `plan` announced."""
        project = load_project(root / "acbatch.yaml")
        planned = plan_project(
            project,
            StateStore(root / "state"),
            service=self.double.url,
            budget_left=request.get("max_credits"),
            words=words,
        )[0]
        before = {step: len(made) for step, made in self.double.creates.items()}
        retry = frozenset(i for i, w in words.items() if w.retry_uncertain)
        self.run(root, retry_uncertain=retry, words=words, **request)
        new = sorted(
            (at, step)
            for step, made in self.double.creates.items()
            for at, _gid in made[before[step] :]
        )
        first = new[0][1] if new else None
        where = (root.name, planned.action, planned.reason, new)
        if planned.action == "create_script":
            assert first == "script", where
        elif planned.action == "create_audio":
            assert first == "audio", where
        elif planned.action == "poll_script":
            assert first in (None, "audio"), where
        else:
            assert first is None, where


@pytest.mark.slow
def test_run_sends_first_the_create_plan_announced_and_the_table_is_exactly_what_runs_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)
    with StrictDouble(script_latency=0.02, audio_latency=0.02, audio_seconds=1.0) as double:
        matrix = Matrix(tmp_path, double)
        plain = matrix.base("plain")
        reviewed = matrix.base("review", review="required")
        for (phase, step), change in itertools.product(REAL_PHASES, CHANGES):
            options: list[tuple[dict[str, Word], dict[str, Any]]] = [
                ({}, {}),
                ({}, {"max_credits": 0}),
            ]
            if phase in (Phase.UNCERTAIN, Phase.SCRIPT_SENDING, Phase.AUDIO_SENDING):
                options.append(({"ep-1": Word(retry_uncertain=True)}, {}))
            if phase in (Phase.LOST, Phase.AUDIO_LOST, Phase.FAILED):
                options.append(({"ep-1": Word(retry=True)}, {}))
            for words, request in options:
                root = matrix.scenario(plain, change)
                set_phase(root, phase, step)
                change_spec(root, change)
                matrix.check(root, words, **request)
        # Audio missing on disk, and gone from the service and the published site too.
        for phase, change, gone in itertools.product(
            (Phase.DOWNLOADED, Phase.RENDERED), CHANGES, (False, True)
        ):
            root = matrix.scenario(plain)
            set_phase(root, phase, None)
            change_spec(root, change)
            shutil.rmtree(root / "output")
            if gone:
                data = json.loads((root / "state" / "ep-1.json").read_text())
                double.gone.add(data["audio"]["global_id"])
                config = yaml.safe_load((root / "acbatch.yaml").read_text())
                config["show"]["base_url"] = double.url + "/site/"
                (root / "acbatch.yaml").write_text(yaml.safe_dump(config))
            matrix.check(root, {})
        # Review states: awaiting, approved (current), approved for an older script, invalid.
        for phase, review, change in itertools.product(
            (Phase.SCRIPT_READY, Phase.RENDERED),
            ("awaiting", "approved", "stale", "invalid"),
            ("none", "step1", "step2"),
        ):
            root = matrix.scenario(reviewed)
            set_phase(root, phase, None)
            path = root / "specs" / "ep-1.script.yaml"
            document = yaml.safe_load(path.read_text())
            if review == "awaiting":
                document["approved"] = False
            elif review == "stale":
                document["script_task"] = "old-task-0"
            elif review == "invalid":
                document["bogus"] = 1
            path.write_text(yaml.safe_dump(document, allow_unicode=True))
            change_spec(root, change)
            matrix.check(root, {})
        fault_scenarios(matrix, plain)
    observed = DECIDE_EDGES | RUN_EDGES
    assert DECIDE_EDGES, "run the pure enumeration first (same module)"
    assert observed - EDGES == set(), "moves outside the table"
    assert EDGES - observed == set(), "edges in the table that no run or decision takes"
    # The same check for every single-edge mutation of the table.
    for edge in EDGES:
        assert observed != EDGES - {edge}
    for extra in itertools.product(Phase, Phase):
        if extra not in EDGES:
            assert observed != EDGES | {extra}


def fault_scenarios(matrix: Matrix, plain: Path) -> None:
    """The runner's own failure edges: refusals, failed tasks, deadlines, lost tasks."""
    double = matrix.double
    # A create refused for good (a code the reference does not list) at each step.
    for step in ("script", "audio"):
        root = matrix.scenario(plain)
        set_phase(root, Phase.NEW if step == "script" else Phase.SCRIPT_READY, None)
        double.create_faults[(step, double.create_calls[step] + 1)] = Fault(code=123456)
        matrix.run(root)
    # Tasks the service reports failed, and tasks it forgot.
    for step, fault in itertools.product(("script", "audio"), ("failed", "lost")):
        root = matrix.scenario(plain)
        set_phase(root, Phase.NEW if step == "script" else Phase.SCRIPT_READY, None)
        answer = Fault(status="failed") if fault == "failed" else Fault(code=101008)
        double.status_faults = {(step, n): answer for n in range(1, 5)}
        matrix.run(root)
        double.status_faults = {}
    # A task past its deadline.
    for step in ("script", "audio"):
        root = matrix.scenario(plain)
        set_phase(root, Phase.NEW if step == "script" else Phase.SCRIPT_READY, None)
        double.hold = True
        matrix.run(root, deadline=0.2, poll_initial=0.05)
        double.hold = False
