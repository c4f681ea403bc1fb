"""What `acbatch run` will do next for each episode, and what it may cost. No network.

`run` and `plan` both come here: each episode's situation is read from its spec, state, review
file and audio file, and acbatch.runner.decide decides. The episodes are taken in order and
each paid action holds its credits in the run's budget before the next is decided, so `plan`
announces exactly the creates `run` sends first, and where the budget stops.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.project.model import Episode, Project
from acbatch.runner import bodies
from acbatch.runner.decide import BILLED_STEP, Decision, Facts, Review, Word, decide
from acbatch.runner.limits import CreditBudget
from acbatch.runner.state import EpisodeState, StateStore

SANDBOX_SERVICE = "sandbox"
"""Where sandbox runs' tasks live: the sandbox keeps them across restarts, whatever its port."""


@dataclass(frozen=True, slots=True)
class Situation:
    """Everything the decision reads about one episode, read once."""

    episode: Episode
    state: EpisodeState | None
    facts: Facts
    review: Review
    review_script: dict[str, Any] | None
    """The approved review script's content (the step-2 base), when the file approves."""
    audio_present: bool
    published_present: bool = True

    def decide(
        self,
        *,
        service: str,
        word: Word | None = None,
        max_attempts: int = 2,
        budget_left: int | None = None,
        state: EpisodeState | None = None,
        audio_present: bool | None = None,
        published_present: bool | None = None,
    ) -> Decision:
        return decide(
            state if state is not None else self.state,
            self.facts,
            self.review,
            audio_present=self.audio_present if audio_present is None else audio_present,
            published_present=(
                self.published_present if published_present is None else published_present
            ),
            service=service,
            word=word or Word(),
            max_attempts=max_attempts,
            budget_left=budget_left,
            episode_id=self.episode.id,
        )


def saved_state(
    store: StateStore, episode: Episode, saved: set[str] | None = None
) -> EpisodeState | None:
    """The episode's state as `plan` and `run` decide on it: its own, or the work its spec did
    before it had a language matrix, carried over (StateStore.load_or_carry)."""
    former = episode.spec_id if episode.matrix and episode.spec_id != episode.id else None
    return store.load_or_carry(
        episode.id, former, lambda: bodies.script_fingerprint(episode), saved
    )


def review_path(episode: Episode, state: EpisodeState | None) -> Path:
    """The episode's review file; for a state carried over and not yet saved under its new id
    (whose review file `run` renames with it), the review file of its former id."""
    path = episode.script_review_path
    if state is not None and state.carried_from and not path.exists():
        former = episode.review_path_for(state.carried_from)
        if former.exists():
            return former
    return path


def read_review(
    episode: Episode, root: Path | None = None, path: Path | None = None
) -> tuple[Review, dict[str, Any] | None]:
    """The review file as the decision sees it, and its script when it says approved."""
    if episode.review != "required":
        return Review(), None
    from acbatch.runner import review

    path = path or episode.script_review_path
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else path.name
    command = "acbatch approve --sandbox" if episode.review_folder else "acbatch approve"
    seen = Review(required=True, file_name=shown, approve=command)
    try:
        data = review.load_review(path)
    except review.ReviewError as exc:
        return replace(seen, exists=True, problem=str(exc)), None
    if data is None:
        return seen, None
    approved = data.get("approved") is True
    view = replace(
        seen, exists=True, approved=approved, script_task=str(data.get("script_task") or "")
    )
    return view, review.step2_base(data) if approved else None


def audio_file_present(project: Project, state: EpisodeState | None) -> bool:
    download = state.download if state is not None else None
    return download is not None and (project.config.paths.root / download.path).is_file()


def published_file_present(project: Project, state: EpisodeState | None) -> bool:
    mastered = state.mastered if state is not None else None
    return mastered is not None and (project.config.paths.root / mastered.path).is_file()


def situation(project: Project, episode: Episode, state: EpisodeState | None) -> Situation:
    review, review_script = read_review(
        episode, project.config.paths.root, review_path(episode, state)
    )
    mastering = bodies.mastering_inputs(project.config.audio)
    script_inputs = bodies.script_inputs(episode)
    script = bodies.digest(script_inputs)
    config = project.config
    # The finished script, when there is one: the show's dictionary counts where it is heard.
    result = state.script.result if state is not None else None
    plain = bodies.audio_fingerprint(
        episode, None, script=script, config=config, script_result=result
    )
    reviewed = (
        bodies.audio_fingerprint(
            episode, review_script, script=script, config=config, script_result=result
        )
        if review_script
        else plain
    )
    facts = Facts(
        script=script,
        audio=plain,
        audio_reviewed=reviewed,
        render=bodies.render_fingerprint(episode),
        credits=codes.credit_range(episode.duration_level),
        draft=episode.draft,
        changed_script_fields=bodies.changed_fields(
            state.script.inputs if state else {}, bodies.field_digests(script_inputs)
        ),
        changed_audio_fields=bodies.changed_fields(
            state.audio.inputs if state else {},
            bodies.field_digests(
                bodies.audio_inputs(episode, review_script, config=config, script_result=result)
            ),
        ),
        changed_render_fields=bodies.changed_fields(
            state.render_inputs if state else {},
            bodies.field_digests(bodies.render_inputs(episode)),
        ),
        mastering=bodies.digest(mastering),
        changed_mastering_fields=bodies.changed_fields(
            state.mastered.inputs if state and state.mastered else {},
            bodies.field_digests(mastering),
        ),
    )
    return Situation(
        episode,
        state,
        facts,
        review,
        review_script,
        audio_file_present(project, state),
        published_file_present(project, state),
    )


@dataclass(frozen=True, slots=True)
class PlanItem:
    id: str
    phase: str
    decision: Decision

    @property
    def action(self) -> str:
        return self.decision.action.value

    @property
    def paid(self) -> bool:
        return self.decision.paid

    @property
    def credits_low(self) -> int:
        return self.decision.credits[0]

    @property
    def credits_high(self) -> int:
        return self.decision.credits[1]

    @property
    def reason(self) -> str:
        return self.decision.reason

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "reason": self.reason,
            "phase": self.phase,
            "paid": self.paid,
            "billed_step": BILLED_STEP if self.credits_high else None,
            "credits": {"low": self.credits_low, "high": self.credits_high},
            "attempts": self.decision.attempts or None,
        }


def plan_run(
    project: Project,
    store: StateStore,
    episodes: Sequence[Episode],
    *,
    service: str,
    budget: CreditBudget,
    words: Mapping[str, Word] | None = None,
    max_attempts: int | None = None,
) -> Iterator[tuple[Situation, Decision]]:
    """Each episode's situation and first decision, holding budget in the episodes' order;
    one at a time, so a caller that prints them need not keep them all."""
    words = words or {}
    attempts = project.config.api.max_attempts if max_attempts is None else max_attempts
    saved = store.saved_names()
    for episode in episodes:
        state = saved_state(store, episode, saved)
        current = situation(project, episode, state)
        decision = current.decide(
            service=service,
            word=words.get(episode.id, Word()),
            max_attempts=attempts,
            budget_left=budget.available(episode.id),
        )
        if decision.paid:
            budget.hold(episode.id, decision.credits[1])
        yield current, decision


def plan_item(current: Situation, decision: Decision) -> PlanItem:
    return PlanItem(
        current.episode.id, current.state.phase.value if current.state else "new", decision
    )
