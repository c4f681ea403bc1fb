"""Each episode's place in the pipeline, persisted as one JSON file per episode.

    new -> script_sending -> script_requested -> script_ready -> [awaiting_review] ->
    audio_sending -> audio_requested -> audio_ready -> downloaded -> rendered

plus the failure states failed, uncertain and timed_out. `*_sending` is written before a create
leaves the machine; finding it on start-up means the create may have been sent but its task id
was never saved, so the episode is `uncertain` and is only resent on the user's word.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from acbatch.constants import TIMESTAMP_FORMAT
from acbatch.runner.failpoints import failpoint
from acbatch.store import StoreError, atomic_write_json

STATE_VERSION = 1
HISTORY_LIMIT = 30


class Phase(str, Enum):
    NEW = "new"
    SCRIPT_SENDING = "script_sending"
    SCRIPT_REQUESTED = "script_requested"
    SCRIPT_READY = "script_ready"
    AWAITING_REVIEW = "awaiting_review"
    AUDIO_SENDING = "audio_sending"
    AUDIO_REQUESTED = "audio_requested"
    AUDIO_READY = "audio_ready"
    DOWNLOADED = "downloaded"
    RENDERED = "rendered"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    """The service no longer knows the task (101008, asked several times)."""
    AUDIO_LOST = "audio_lost"
    """The audio file is gone from the service and from the published site."""


P = Phase
# Every move an episode can make, as explicit edges. Nothing moves without an edge here: the
# runner's actions (sending, polling, downloading, rendering) and the decision function
# (acbatch.runner.decide) both go through EpisodeState.move, which refuses anything else.
EDGES: frozenset[tuple[Phase, Phase]] = frozenset(
    {
        # step 1: intent saved, then the task id; refused-for-good creates fail from NEW
        (P.NEW, P.SCRIPT_SENDING),
        (P.NEW, P.FAILED),
        (P.SCRIPT_SENDING, P.SCRIPT_REQUESTED),
        (P.SCRIPT_SENDING, P.NEW),
        (P.SCRIPT_SENDING, P.UNCERTAIN),
        (P.SCRIPT_REQUESTED, P.SCRIPT_READY),
        (P.SCRIPT_REQUESTED, P.FAILED),
        (P.SCRIPT_REQUESTED, P.TIMED_OUT),
        (P.SCRIPT_REQUESTED, P.LOST),
        # review gate
        (P.SCRIPT_READY, P.AWAITING_REVIEW),
        # step 2
        (P.SCRIPT_READY, P.AUDIO_SENDING),
        (P.SCRIPT_READY, P.FAILED),
        (P.AWAITING_REVIEW, P.AUDIO_SENDING),
        (P.AUDIO_SENDING, P.AUDIO_REQUESTED),
        (P.AUDIO_SENDING, P.SCRIPT_READY),
        (P.AUDIO_SENDING, P.UNCERTAIN),
        (P.AUDIO_REQUESTED, P.AUDIO_READY),
        (P.AUDIO_REQUESTED, P.FAILED),
        (P.AUDIO_REQUESTED, P.TIMED_OUT),
        (P.AUDIO_REQUESTED, P.LOST),
        # download and render
        (P.AUDIO_READY, P.DOWNLOADED),
        (P.AUDIO_READY, P.AUDIO_LOST),
        (P.DOWNLOADED, P.RENDERED),
        (P.RENDERED, P.RENDERED),
        # the audio file is missing locally: fetched again, at no cost
        (P.DOWNLOADED, P.AUDIO_READY),
        (P.RENDERED, P.AUDIO_READY),
        # a timed-out task is polled again
        (P.TIMED_OUT, P.SCRIPT_REQUESTED),
        (P.TIMED_OUT, P.AUDIO_REQUESTED),
        # the user's word: resend an uncertain create, or adopt the task id they found
        (P.UNCERTAIN, P.NEW),
        (P.UNCERTAIN, P.SCRIPT_READY),
        (P.UNCERTAIN, P.SCRIPT_REQUESTED),
        (P.UNCERTAIN, P.AUDIO_REQUESTED),
        # a failed step is retried (automatically up to api.max_attempts, then on the user's
        # word); a lost task or lost audio only on the user's word
        (P.FAILED, P.NEW),
        (P.FAILED, P.SCRIPT_READY),
        (P.LOST, P.NEW),
        (P.LOST, P.SCRIPT_READY),
        (P.AUDIO_LOST, P.SCRIPT_READY),
        # the spec's step-1 inputs changed (or `acbatch redo`): both steps again
        *((p, P.NEW) for p in (
            P.SCRIPT_REQUESTED, P.SCRIPT_READY, P.AWAITING_REVIEW, P.AUDIO_REQUESTED,
            P.AUDIO_READY, P.DOWNLOADED, P.RENDERED, P.TIMED_OUT, P.AUDIO_LOST,
        )),
        # the step-2 inputs changed (or `acbatch redo --audio-only`): the audio again
        *((p, P.SCRIPT_READY) for p in (
            P.AUDIO_REQUESTED, P.AUDIO_READY, P.DOWNLOADED, P.RENDERED,
            P.TIMED_OUT,
        )),
    }
)  # fmt: skip
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    phase: frozenset(to for frm, to in EDGES if frm == phase) for phase in Phase
}

DONE_PHASES = frozenset({Phase.DOWNLOADED, Phase.RENDERED})
SENDING_PHASES = frozenset({Phase.SCRIPT_SENDING, Phase.AUDIO_SENDING})
PROBLEM_PHASES = frozenset(
    {Phase.FAILED, Phase.UNCERTAIN, Phase.TIMED_OUT, Phase.LOST, Phase.AUDIO_LOST}
)


def now_iso() -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime())


def parse_iso(value: str | None) -> datetime | None:
    """A time now_iso() wrote, or None when there is none or it is not one."""
    if not value:
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """dataclasses.asdict without its deep copy of every value: a state is saved many times
    per episode, and the API's results it holds are plain JSON data already (only read by the
    encoder)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    if not dataclasses.is_dataclass(value):
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
    return {name: _plain(getattr(value, name)) for name in names}


@dataclass
class StepRecord:
    """One paid API step (script or audio) of one episode."""

    fingerprint: str = ""
    """The inputs this step's result belongs to."""
    inputs: dict[str, str] = field(default_factory=dict)
    """A digest per input (acbatch.runner.bodies.field_digests): what changed, for `plan`."""
    request_fingerprint: str = ""
    """Digest of the exact create body sent."""
    service: str = ""
    """Base URL the task lives on."""
    global_id: str | None = None
    sent_at: str | None = None
    requested_at: str | None = None
    completed_at: str | None = None
    polls: int = 0
    attempts: int = 0
    result: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        known = _STEP_FIELDS
        return cls(**{k: v for k, v in data.items() if k in known})


_STEP_FIELDS = frozenset(f.name for f in fields(StepRecord))


@dataclass
class Download:
    path: str
    """Relative to the project root."""
    bytes: int
    sha256: str
    duration: float
    url: str = ""
    downloaded_at: str = ""


@dataclass
class Mastered:
    """The published MP3, made locally from the downloaded one (acbatch.publish.mastering)."""

    path: str
    """Relative to the project root."""
    fingerprint: str
    """The mastering settings and jingles it was made with (acbatch.runner.bodies)."""
    speech_start: float
    """Seconds into the published file where the API's audio starts."""
    speech_seconds: float
    duration: float
    bytes: int
    source: str = ""
    """The downloaded MP3's sha256: a new download is mastered again."""
    inputs: dict[str, str] = field(default_factory=dict)
    """One digest per setting, so that `plan` can say what changed."""
    loudness: float | None = None
    true_peak: float | None = None
    mastered_at: str = ""


@dataclass
class Charge:
    """One billed audio task: the ledger keeps every one, not only the latest."""

    task: str
    credits: int
    seconds: float
    at: str
    step: str = "audio"


@dataclass
class EpisodeState:
    id: str
    phase: Phase = Phase.NEW
    guid: str = ""
    script: StepRecord = field(default_factory=StepRecord)
    audio: StepRecord = field(default_factory=StepRecord)
    download: Download | None = None
    mastered: Mastered | None = None
    render_fingerprint: str = ""
    render_inputs: dict[str, str] = field(default_factory=dict)
    credits_estimated: int = 0
    charges: list[Charge] = field(default_factory=list)
    failures: int = 0
    """Failed attempts at the current work; automatic retries stop at api.max_attempts."""
    error: dict[str, Any] | None = None
    failed_step: str | None = None
    first_published: str | None = None
    updated_at: str = ""
    history: list[dict[str, str]] = field(default_factory=list)
    carried_from: str | None = None
    """The id this work was saved under before its spec had a language matrix (see
    StateStore.load_or_carry): `tide-pools` for `tide-pools.en`."""
    carried_to: str | None = None
    """On that earlier state: the episode whose state holds its work (and charges) now. The
    file is kept as a record; nothing reads it for decisions or costs any more."""
    version: int = STATE_VERSION

    @property
    def credits_charged(self) -> int:
        return sum(charge.credits for charge in self.charges)

    def charge(self, task: str, credits: int, seconds: float) -> None:
        """Record the charge of an audio task once, however often its audio is downloaded."""
        if not any(existing.task == task for existing in self.charges):
            self.charges.append(Charge(task, credits, round(seconds, 3), now_iso()))

    def move(self, phase: Phase, note: str = "") -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise RuntimeError(f"{self.id}: illegal transition {self.phase.value} -> {phase.value}")
        entry = {"at": now_iso(), "from": self.phase.value, "to": phase.value}
        if note:
            entry["note"] = note[:300]
        self.history = [*self.history, entry][-HISTORY_LIMIT:]
        self.phase = phase
        if phase not in PROBLEM_PHASES:
            self.error = None
            self.failed_step = None

    def fail(
        self, phase: Phase, step: str, kind: str, message: str, code: int | None = None
    ) -> None:
        self.move(phase, message)
        self.failed_step = step
        self.error = {"kind": kind, "message": message[:1000], "step": step, "at": now_iso()}
        if code is not None:
            self.error["code"] = code

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _plain(self)
        data["phase"] = self.phase.value
        data["credits_charged"] = self.credits_charged  # for people reading the file
        for rare in ("carried_from", "carried_to"):
            if data[rare] is None:
                del data[rare]  # only in the files of a show that gained a language matrix
        return data

    @classmethod
    def from_json(cls, data: Any, source: Path) -> EpisodeState:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise StoreError(f"{source}: not an acbatch state file")
        version = data.get("version")
        if version != STATE_VERSION:
            raise StoreError(
                f"{source}: state version {version!r} is not supported by this acbatch "
                f"(expects {STATE_VERSION}); upgrade acbatch"
            )
        try:
            download = data.get("download")
            mastered = data.get("mastered")
            charges = [Charge(**charge) for charge in data.get("charges") or []]
            if not charges and int(data.get("credits_charged") or 0):
                # Written before the ledger: the one charge it knew, for its audio task.
                audio_task = (data.get("audio") or {}).get("global_id") or "unknown"
                charges = [Charge(str(audio_task), int(data["credits_charged"]), 0.0, "")]
            return cls(
                id=data["id"],
                phase=Phase(data.get("phase", "new")),
                guid=str(data.get("guid") or ""),
                script=StepRecord.from_json(data.get("script") or {}),
                audio=StepRecord.from_json(data.get("audio") or {}),
                download=Download(**download) if download else None,
                mastered=Mastered(**mastered) if mastered else None,
                render_fingerprint=str(data.get("render_fingerprint") or ""),
                render_inputs=dict(data.get("render_inputs") or {}),
                credits_estimated=int(data.get("credits_estimated") or 0),
                charges=charges,
                failures=int(data.get("failures") or 0),
                error=data.get("error"),
                failed_step=data.get("failed_step"),
                first_published=data.get("first_published"),
                updated_at=str(data.get("updated_at") or ""),
                history=list(data.get("history") or []),
                carried_from=data.get("carried_from") or None,
                carried_to=data.get("carried_to") or None,
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise StoreError(f"{source}: damaged state file ({exc})") from None


class StateStore:
    """`state/<id>.json`, one per episode: human-readable, sorted keys, versioned.

    Every load reads the file: the state on disk is the truth, whoever changed it.
    """

    def __init__(self, folder: Path, on_save: Callable[[Path], None] | None = None) -> None:
        self.folder = folder
        self.on_save = on_save
        """Called with the file's path after every save (e.g. to push state to git)."""

    def path_for(self, episode_id: str) -> Path:
        return self.folder / self.file_name(episode_id)

    @staticmethod
    def file_name(episode_id: str) -> str:
        return f"{episode_id}.json"

    def saved_names(self) -> set[str] | None:
        """Names of the files in the folder, casefolded: a state whose name is not among them
        does not exist, so load() need not be tried (one listing instead of a failed open per
        new episode). Empty without a folder; None when it cannot be listed (load() reports).
        """
        try:
            with os.scandir(self.folder) as entries:
                return {entry.name.casefold() for entry in entries}
        except FileNotFoundError:
            return set()
        except OSError:
            return None

    def has_saved(self, episode_id: str, saved: set[str] | None) -> bool:
        """Whether load() could find a state, given saved_names() (None: it could)."""
        return saved is None or self.file_name(episode_id).casefold() in saved

    def load(self, episode_id: str) -> EpisodeState | None:
        path = self.path_for(episode_id)
        if path.is_symlink():
            # A state file decides what is paid for: it is never read from outside the project.
            raise StoreError(f"{path}: is a symbolic link; a state file must be a plain file")
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{path}: cannot read state ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path}:{exc.lineno}:{exc.colno}: state is not valid JSON") from None
        state = EpisodeState.from_json(data, path)
        if state.id != episode_id:
            raise StoreError(f"{path}: holds the state of '{state.id}', not '{episode_id}'")
        return state

    def load_or_carry(
        self,
        episode_id: str,
        former_id: str | None,
        script_fingerprint: Callable[[], str],
        saved: set[str] | None = None,
    ) -> EpisodeState | None:
        """The episode's state, as `plan` and `run` both read it before deciding.

        Its own file; or, when it has none and `former_id` (its spec's id, for one language of a
        language matrix) has a state whose script fingerprint is this episode's, that state:
        the work the spec did before it had a matrix, paid for already, carried over under the
        new id (`carried_from` set, not saved: `run` saves it with settle_carry, `plan` only
        reads). The fingerprint counts the language, so only the language the work was made in
        matches; and a state already carried (`carried_to`) is never carried again.
        `script_fingerprint` is called only when there is a former state to compare.
        """
        if self.has_saved(episode_id, saved):
            own = self.load(episode_id)
            if own is not None:
                return own
        if not former_id or former_id == episode_id or not self.has_saved(former_id, saved):
            return None
        former = self.load(former_id)
        if former is None or former.carried_to or not former.script.fingerprint:
            return None
        if former.script.fingerprint != script_fingerprint():
            return None
        return dataclasses.replace(former, id=episode_id, carried_from=former_id)

    def settle_carry(self, state: EpisodeState) -> None:
        """Save a carried-over state under its new id, then mark the former state carried.

        In this order, so that a kill at any point keeps the paid work: before the save the
        former file is untouched and the next run carries it again; after it the new file
        holds the work, and mark_carried (called again by every run) marks the former one.
        The former file is marked rather than removed: a state pushed to git would come back
        on the next pull, and a marked file is left out of costs and never carried again.
        """
        if not self.path_for(state.id).exists():
            failpoint("before_carry_save")
            self.save(state)
            failpoint("after_carry_save")
        self.mark_carried(state)

    def mark_carried(self, state: EpisodeState) -> None:
        """Mark the state `state` was carried from as carried to it, if it is the same work."""
        if not state.carried_from:
            return
        former = self.load(state.carried_from)
        if former is None or former.carried_to:
            return
        same_work = (former.script.global_id, former.audio.global_id) == (
            state.script.global_id,
            state.audio.global_id,
        )
        if same_work:
            former.carried_to = state.id
            self.save(former)

    def save(self, state: EpisodeState) -> None:
        state.updated_at = now_iso()
        path = self.path_for(state.id)
        atomic_write_json(path, state.to_json())
        if self.on_save is not None:
            self.on_save(path)

    def sweep_temporary(self) -> int:
        """Remove temporary files a killed run left behind (call with the project lock held)."""
        removed = 0
        if self.folder.is_dir():
            for leftover in self.folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    removed += 1
        return removed

    def all_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))


def state_diagram() -> str:
    """The transition table as a Mermaid state diagram (docs/architecture.md shows it)."""
    lines = ["stateDiagram-v2", "    [*] --> new"]
    order = list(Phase)
    for frm, to in sorted(EDGES, key=lambda e: (order.index(e[0]), order.index(e[1]))):
        lines.append(f"    {frm.value} --> {to.value}")
    lines.append("    rendered --> [*]")
    return "\n".join(lines) + "\n"
