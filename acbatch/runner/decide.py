"""What an episode does next: the one decision `run`, its resume fast path and `plan` share.

`decide` is a pure function. Given what is known about an episode (its spec's fingerprints, its
saved state, its review file, whether its audio file is on disk) and the user's word for this
run, it returns the moves to record (each an edge of acbatch.runner.state.EDGES) and the next
action, with whether that action sends a paid create and what the episode's work in this run
may bill. `plan` formats the answer; `run` records the moves, performs the action, and asks
again until the action is not one it performs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from acbatch.runner.state import (
    DONE_PHASES,
    SENDING_PHASES,
    TRANSITIONS,
    EpisodeState,
    Phase,
)


class Action(str, Enum):
    CREATE_SCRIPT = "create_script"
    CREATE_AUDIO = "create_audio"
    POLL_SCRIPT = "poll_script"
    POLL_AUDIO = "poll_audio"
    DOWNLOAD = "download"
    MASTER = "master"
    """Make the published MP3 from the downloaded one, locally (jingles, loudness): free."""
    RENDER = "render"
    WAIT_REVIEW = "wait_review"
    REVIEW_INVALID = "review_invalid"
    UNCERTAIN = "uncertain"
    FAILED = "failed"
    LOST = "lost"
    AUDIO_LOST = "audio_lost"
    WRONG_HOST = "wrong_host"
    OVER_BUDGET = "over_budget"
    DONE = "done"
    DRAFT = "draft"


PAID_ACTIONS = frozenset({Action.CREATE_SCRIPT, Action.CREATE_AUDIO})
# Actions that end an episode's turn in a run (nothing more happens to it until the next one).
FINAL_ACTIONS = frozenset(
    {
        Action.WAIT_REVIEW,
        Action.REVIEW_INVALID,
        Action.UNCERTAIN,
        Action.FAILED,
        Action.LOST,
        Action.AUDIO_LOST,
        Action.WRONG_HOST,
        Action.OVER_BUDGET,
        Action.RENDER,
        Action.DONE,
        Action.DRAFT,
    }
)
BILLED_STEP = "audio"
"""The reference bills audio only (by its duration); a script costs no credits."""


@dataclass(frozen=True, slots=True)
class Review:
    """The episode's review file as the decision needs it."""

    required: bool = False
    exists: bool = False
    approved: bool = False
    script_task: str = ""
    """The script task the file was written from."""
    problem: str = ""
    """Why the file cannot be used (it does not pass its schema), if it cannot."""
    file_name: str = ""
    """The review file, as shown to the user."""
    approve: str = "acbatch approve"
    """The command that approves it (the sandbox workspace's takes --sandbox)."""

    def approves(self, script_task: str | None) -> bool:
        """An approval counts only for the script task it was given for."""
        return (
            self.approved
            and not self.problem
            and bool(script_task)
            and self.script_task == script_task
        )


@dataclass(frozen=True, slots=True)
class Facts:
    """What the episode's spec asks for now, as fingerprints (acbatch.runner.bodies)."""

    script: str
    audio: str
    """The audio fingerprint with no reviewed script."""
    audio_reviewed: str
    """The audio fingerprint with the approved review script (same as `audio` without one)."""
    render: str
    credits: tuple[int, int]
    """Low and high credits of the episode's audio (its duration level)."""
    draft: bool = False
    changed_script_fields: tuple[str, ...] = ()
    changed_audio_fields: tuple[str, ...] = ()
    changed_render_fields: tuple[str, ...] = ()
    mastering: str = ""
    """The mastering fingerprint (jingles and loudness) the published MP3 should have; empty
    when the decision is asked without it (the published file is then taken as it is)."""
    changed_mastering_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Word:
    """The user's word for this run, for this episode."""

    retry_uncertain: bool = False
    retry: bool = False
    """`acbatch retry`: resend a failed or lost step."""
    redo: str | None = None
    """`acbatch redo`: "all" (both steps) or "audio"."""
    adopt: tuple[str, str] | None = None
    """`acbatch adopt`: (step, task id) of the task the user found for an uncertain create."""


@dataclass(frozen=True, slots=True)
class Move:
    to: Phase
    note: str
    reset: frozenset[str] = frozenset()
    """Records cleared by the move: script, audio, failures. The last download is kept: the
    published episode stays in the feed until its new audio replaces it."""
    adopt: str | None = None
    """A task id the user gave (`acbatch adopt`)."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    phase: Phase
    """Where the episode stands after the moves."""
    moves: tuple[Move, ...] = ()
    credits: tuple[int, int] = (0, 0)
    """What this run's work on the episode may bill (audio only)."""
    attempts: str = ""
    """For a failed episode: automatic retries used of those allowed."""

    @property
    def paid(self) -> bool:
        return self.action in PAID_ACTIONS

    @property
    def final(self) -> bool:
        return self.action in FINAL_ACTIONS


@dataclass
class _Walk:
    """The decision's working copy of the state's few fields it looks at."""

    phase: Phase
    failed_step: str | None
    script_task: str | None
    has_script_result: bool
    has_file_url: bool
    moves: list[Move] = field(default_factory=list)

    def move(self, to: Phase, note: str, *reset: str, adopt: str | None = None) -> None:
        self.moves.append(Move(to, note, frozenset(reset), adopt))
        self.phase = to
        if "script" in reset:
            self.script_task, self.has_script_result = None, False
        if "audio" in reset:
            self.has_file_url = False
        if to not in (Phase.FAILED, Phase.UNCERTAIN, Phase.LOST, Phase.AUDIO_LOST):
            self.failed_step = None


def _listed(names: tuple[str, ...], fallback: str) -> str:
    return ", ".join(names) if names else fallback


def decide(
    state: EpisodeState | None,
    facts: Facts,
    review: Review,
    *,
    audio_present: bool,
    service: str,
    published_present: bool = True,
    word: Word | None = None,
    max_attempts: int = 2,
    budget_left: int | None = None,
    episode_id: str = "",
) -> Decision:
    """The next action for one episode. Pure: reads nothing, writes nothing.

    `audio_present`: the downloaded (API's) MP3 is on disk; `published_present`: the published
    MP3 made from it is.
    """
    if facts.draft:
        return Decision(Action.DRAFT, "publish.draft is true: validated, never run", Phase.NEW)
    state = state or EpisodeState(id=episode_id)
    word = word or Word()
    name = episode_id or state.id
    walk = _Walk(
        phase=state.phase,
        failed_step=state.failed_step,
        script_task=state.script.global_id,
        has_script_result=state.script.result is not None,
        has_file_url=isinstance((state.audio.result or {}).get("file_url"), str),
    )

    def done(action: Action, reason: str, attempts: str = "") -> Decision:
        credits = (0, 0)
        if action in PAID_ACTIONS and (
            action == Action.CREATE_AUDIO or not review.required or word.redo is not None
        ):
            credits = facts.credits
        if action in PAID_ACTIONS and budget_left is not None and credits[1] > budget_left:
            return Decision(
                Action.OVER_BUDGET,
                f"would {action.value.replace('_', ' ')} (up to {credits[1]} credits) but only "
                f"{budget_left} credits are left in the budget",
                walk.phase,
                tuple(walk.moves),
            )
        return Decision(action, reason, walk.phase, tuple(walk.moves), credits, attempts)

    def poll(step: str) -> Decision:
        record = state.script if step == "script" else state.audio
        if record.service and service and record.service != service:
            return done(
                Action.WRONG_HOST,
                f"the {step} task {record.global_id} lives on {record.service}, but this run "
                f"talks to {service}: run with --base-url {record.service} to finish it there",
            )
        action = Action.POLL_SCRIPT if step == "script" else Action.POLL_AUDIO
        return done(action, _first_reason(walk, f"{step} task {record.global_id} is in progress"))

    # 1. A create was on its way when acbatch stopped: its task id was never saved.
    if walk.phase in SENDING_PHASES:
        step = "script" if walk.phase == Phase.SCRIPT_SENDING else "audio"
        walk.move(
            Phase.UNCERTAIN,
            f"acbatch stopped while the {step} create was being sent, so its task id was never "
            "saved; it may have been created (and billed). Check your account, then "
            f"`acbatch adopt {name} --{step}-task ID` or `acbatch run --retry-uncertain {name}`",
        )
        walk.failed_step = step

    # 2. Uncertain: left only by the user's word.
    if walk.phase == Phase.UNCERTAIN:
        step = walk.failed_step or "script"
        if word.adopt is not None and word.adopt[0] == step:
            walk.move(
                Phase.SCRIPT_REQUESTED if step == "script" else Phase.AUDIO_REQUESTED,
                f"adopted {step} task {word.adopt[1]} on the user's word",
                adopt=word.adopt[1],
            )
        elif word.retry_uncertain or word.redo is not None:
            if step == "script" or word.redo == "all" or not walk.has_script_result:
                walk.move(Phase.NEW, "resent on the user's word", "script", "audio")
            else:
                walk.move(Phase.SCRIPT_READY, "resent on the user's word", "audio")
        else:
            return done(
                Action.UNCERTAIN,
                f"the last {step} create's outcome is unknown and it may have been billed; "
                f"check your account, then `acbatch adopt {name} --{step}-task ID` or "
                f"`acbatch run --retry-uncertain {name}`",
            )

    # 3. The user asks for new paid work.
    if word.redo == "all" and walk.phase != Phase.NEW:
        walk.move(Phase.NEW, "redone on the user's word", "script", "audio", "failures")
    elif word.redo == "audio" and walk.phase not in (Phase.SCRIPT_READY, Phase.AWAITING_REVIEW):
        if not walk.has_script_result or (Phase.SCRIPT_READY not in TRANSITIONS[walk.phase]):
            return done(Action.FAILED, "no finished script to make the audio from yet")
        walk.move(Phase.SCRIPT_READY, "audio redone on the user's word", "audio")

    # 4. What the spec asks for changed since the work was done.
    recorded_script = state.script.fingerprint
    if walk.phase != Phase.NEW and recorded_script and recorded_script != facts.script:
        what = _listed(facts.changed_script_fields, "step-1 inputs")
        walk.move(
            Phase.NEW,
            f"{what} changed: both steps are redone",
            "script",
            "audio",
            "failures",
        )
    approved = review.approves(walk.script_task)
    wanted_audio = facts.audio_reviewed if approved else facts.audio
    recorded_audio = state.audio.fingerprint
    audio_stale = bool(recorded_audio) and recorded_audio != wanted_audio
    audio_phases = (
        Phase.AUDIO_REQUESTED,
        Phase.AUDIO_READY,
        Phase.DOWNLOADED,
        Phase.RENDERED,
        Phase.TIMED_OUT,
        Phase.FAILED,
        Phase.LOST,
        Phase.AUDIO_LOST,
    )
    if audio_stale and walk.phase in audio_phases and walk.failed_step != "script":
        what = _listed(facts.changed_audio_fields, "the reviewed script or overrides")
        walk.move(
            Phase.SCRIPT_READY,
            f"{what} changed: the audio is redone",
            "audio",
            "failures",
        )

    # 5. Failures: retried automatically a few times, then only on the user's word.
    if walk.phase == Phase.FAILED:
        step = walk.failed_step or "script"
        used = state.failures
        attempts = f"{used} failed of {max_attempts + 1} allowed"
        restart = (
            Phase.NEW if step == "script" or not walk.has_script_result else Phase.SCRIPT_READY
        )
        message = (state.error or {}).get("message", "failed")
        if word.retry:
            walk.move(restart, f"retried on the user's word after: {message}", *_resets(restart))
        elif used <= max_attempts:
            walk.move(
                restart,
                f"automatic retry {used} of {max_attempts} after: {message}",
                *_resets(restart),
            )
        else:
            return done(
                Action.FAILED,
                f"failed {used} times ({message}); `acbatch retry {name}` sends it again",
                attempts,
            )
    elif walk.phase in (Phase.LOST, Phase.AUDIO_LOST):
        step = walk.failed_step or ("audio" if walk.phase == Phase.AUDIO_LOST else "script")
        restart = Phase.NEW if step == "script" else Phase.SCRIPT_READY
        if not word.retry:
            what = (
                "the audio file is gone from the service and from the published site"
                if walk.phase == Phase.AUDIO_LOST
                else f"the service no longer knows the {step} task"
            )
            return done(
                Action.AUDIO_LOST if walk.phase == Phase.AUDIO_LOST else Action.LOST,
                f"{what}; `acbatch retry {name}` pays for it again",
            )
        walk.move(restart, "sent again on the user's word", *_resets(restart))
    elif walk.phase == Phase.TIMED_OUT:
        step = walk.failed_step or "script"
        walk.move(
            Phase.SCRIPT_REQUESTED if step == "script" else Phase.AUDIO_REQUESTED,
            "polling the timed-out task again",
        )

    # 6. Finished, but the audio file is not on disk: fetched again at no cost.
    if walk.phase in DONE_PHASES and not audio_present:
        walk.move(Phase.AUDIO_READY, "the audio file is missing: fetched again (free)")

    # 7. The next step from where the episode stands.
    phase = walk.phase
    if phase == Phase.NEW:
        return done(Action.CREATE_SCRIPT, _first_reason(walk, "new episode"))
    if phase == Phase.SCRIPT_REQUESTED:
        return poll("script")
    if phase in (Phase.SCRIPT_READY, Phase.AWAITING_REVIEW):
        if not walk.has_script_result or not walk.script_task:
            walk.move(Phase.NEW, "the stored script is missing: requested again", "script")
            return done(Action.CREATE_SCRIPT, _first_reason(walk, ""))
        if review.problem:
            return done(Action.REVIEW_INVALID, f"the review file cannot be used: {review.problem}")
        if review.required and not review.approves(walk.script_task):
            if phase == Phase.SCRIPT_READY:
                walk.move(Phase.AWAITING_REVIEW, f"review {review.file_name}")
            return done(Action.WAIT_REVIEW, _review_reason(review, walk.script_task, name))
        return done(Action.CREATE_AUDIO, _first_reason(walk, "script ready"))
    if phase == Phase.AUDIO_REQUESTED:
        return poll("audio")
    if phase == Phase.AUDIO_READY:
        if not walk.has_file_url:
            walk.move(Phase.SCRIPT_READY, "no audio URL stored: the audio is requested again")
            return done(Action.CREATE_AUDIO, _first_reason(walk, ""))
        return done(Action.DOWNLOAD, _first_reason(walk, "audio ready to download (free)"))
    mastered = state.mastered.fingerprint if state.mastered is not None else ""
    new_audio = (
        state.mastered is not None
        and state.download is not None
        and state.mastered.source != state.download.sha256
    )
    if facts.mastering and (mastered != facts.mastering or new_audio or not published_present):
        if not mastered or new_audio:
            reason = "the downloaded audio is mastered locally (jingles, loudness; free)"
        elif mastered != facts.mastering:
            what = _listed(facts.changed_mastering_fields, "the audio settings")
            reason = f"{what} changed: the audio is made again locally (free, no API call)"
        else:
            reason = "the published audio file is missing: made again locally (free)"
        return done(Action.MASTER, reason)
    if phase == Phase.DOWNLOADED or state.render_fingerprint != facts.render:
        what = _listed(facts.changed_render_fields, "publish metadata")
        reason = (
            "notes and feed are rendered"
            if phase == Phase.DOWNLOADED
            else (f"{what} changed: re-render only (free)")
        )
        return done(Action.RENDER, reason)
    return done(Action.DONE, "finished; costs no API calls")


def _resets(restart: Phase) -> tuple[str, ...]:
    return ("script", "audio") if restart == Phase.NEW else ("audio",)


def _first_reason(walk: _Walk, default: str) -> str:
    """The reason of the move that led here (what changed), else the default."""
    for move in walk.moves:
        if move.to in (Phase.NEW, Phase.SCRIPT_READY) and move.note:
            return move.note
    return default or (walk.moves[-1].note if walk.moves else "")


def _review_reason(review: Review, script_task: str | None, name: str) -> str:
    if review.problem:
        return f"waiting on review: {review.problem}"
    if review.approved and review.script_task != script_task:
        return (
            f"a new script replaced the one approved in {review.file_name}: review the new "
            "script (the old edits are kept beside it), then "
            f"`{review.approve} {name}`"
        )
    return f"waiting for review: edit {review.file_name}, then `{review.approve} {name}`"
