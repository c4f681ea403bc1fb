"""What `acbatch run` would do next for each episode, and what it would cost. No network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acbatch import codes
from acbatch.runner import bodies
from acbatch.runner.state import DONE_PHASES, EpisodeState, Phase, StateStore
from acbatch.spec.model import Episode, Project

# action -> does it send a paid create?
ACTIONS = {
    "create_script": True,
    "create_audio": True,
    "poll_script": False,
    "poll_audio": False,
    "download": False,
    "render": False,
    "wait_review": False,
    "uncertain": False,
    "done": False,
    "draft": False,
}


@dataclass(frozen=True)
class PlanItem:
    id: str
    action: str
    reason: str
    phase: str
    credits_low: int
    credits_high: int

    @property
    def paid(self) -> bool:
        return ACTIONS[self.action]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "reason": self.reason,
            "phase": self.phase,
            "paid": self.paid,
            "credits": {"low": self.credits_low, "high": self.credits_high},
        }


def _review_state(episode: Episode) -> tuple[dict[str, Any] | None, str]:
    if episode.review != "required":
        return None, ""  # what approved_script says, without importing the review gate
    from acbatch.runner import review

    try:
        return review.approved_script(episode), ""
    except review.ReviewError as exc:
        return None, str(exc)


def plan_episode(
    episode: Episode,
    state: EpisodeState | None,
    *,
    project: Project,
    retry_uncertain: frozenset[str] = frozenset(),
) -> PlanItem:
    low, high = codes.credit_range(episode.duration)

    def item(action: str, reason: str) -> PlanItem:
        paid = ACTIONS[action]
        return PlanItem(
            episode.id,
            action,
            reason,
            state.phase.value if state else "new",
            low if paid else 0,
            high if paid else 0,
        )

    if episode.draft:
        return item("draft", "publish.draft is true: validated, never run")
    if state is None:
        return item("create_script", "new episode")
    phase = state.phase
    approved, review_problem = _review_state(episode)
    recorded = state.script.fingerprint
    wanted_script = bodies.script_fingerprint(episode)
    if phase != Phase.NEW and recorded and recorded != wanted_script:
        return item(
            "create_script",
            "spec changed since the last run (source, style, duration, "
            "language or speakers): both steps are redone",
        )
    audio_changed = state.audio.fingerprint not in (
        "",
        bodies.audio_fingerprint(episode, approved, script=wanted_script),
    )
    if phase in (Phase.SCRIPT_SENDING, Phase.AUDIO_SENDING):
        return item("uncertain", "a create was being sent when acbatch stopped; it is not resent")
    if phase == Phase.UNCERTAIN:
        if episode.id in retry_uncertain:
            step = "create_script" if state.failed_step == "script" else "create_audio"
            return item(step, "resent on the user's word (--retry-uncertain)")
        return item(
            "uncertain",
            f"the last create's outcome is unknown; resend with --retry-uncertain {episode.id}",
        )
    if audio_changed and (
        phase in DONE_PHASES
        or phase in (Phase.AUDIO_REQUESTED, Phase.AUDIO_READY)
        or state.failed_step == "audio"
    ):
        return item("create_audio", "overrides or the reviewed script changed: audio is redone")
    if phase == Phase.NEW:
        return item("create_script", "new episode")
    if phase == Phase.FAILED:
        step = state.failed_step
        reason = f"retrying after: {(state.error or {}).get('message', 'failure')}"
        if step == "script":
            return item("create_script", reason)
        if step == "audio":
            return item("create_audio", reason)
        return item("download", reason)
    if phase == Phase.TIMED_OUT:
        step = "poll_script" if state.failed_step == "script" else "poll_audio"
        return item(step, "resuming the poll of a timed-out task")
    if phase == Phase.SCRIPT_REQUESTED:
        return item("poll_script", f"script task {state.script.global_id} is in progress")
    if phase == Phase.AUDIO_REQUESTED:
        return item("poll_audio", f"audio task {state.audio.global_id} is in progress")
    if phase in (Phase.SCRIPT_READY, Phase.AWAITING_REVIEW):
        if episode.review == "required" and approved is None:
            detail = review_problem or f"approve {episode.script_review_path.name} first"
            return item("wait_review", f"waiting on review: {detail}")
        return item("create_audio", "script ready")
    if phase == Phase.AUDIO_READY:
        return item("download", "audio ready to download")
    download = state.download
    if download is None or not (project.config.paths.root / download.path).is_file():
        return item("download", "the audio file is missing from output/: fetched again (free)")
    if state.render_fingerprint != bodies.render_fingerprint(episode):
        return item("render", "publish metadata changed: notes and feed are re-rendered")
    return item("done", "finished; costs no API calls")


def plan_project(
    project: Project,
    store: StateStore,
    episodes: list[Episode] | None = None,
    retry_uncertain: frozenset[str] = frozenset(),
) -> list[PlanItem]:
    chosen = project.episodes if episodes is None else episodes
    saved = store.saved_names()
    return [
        plan_episode(
            e,
            store.load(e.id) if store.has_saved(e.id, saved) else None,
            project=project,
            retry_uncertain=retry_uncertain,
        )
        for e in chosen
    ]
