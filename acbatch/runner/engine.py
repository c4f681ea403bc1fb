"""The runner: moves every episode through both paid steps and the download.

Each episode is driven by one worker as an explicit state machine (acbatch.runner.state), and
every transition is written to disk before the next action. Paid creates follow one rule: the
intent is saved before the request leaves, the task id is saved before anything else happens,
and a create whose outcome is unknown is never resent without the user's word.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from acbatch import codes
from acbatch.constants import ORIGINAL_AUDIO_SUFFIX
from acbatch.project.model import Episode, Project
from acbatch.publish.errors import TemplateError
from acbatch.runner import bodies
from acbatch.runner.decide import Action, Decision, Move, Word
from acbatch.runner.failpoints import failpoint
from acbatch.runner.limits import AdaptiveLimit, Backoff, CreditBudget, RateGate
from acbatch.runner.plan import (
    Situation,
    audio_file_present,
    plan_run,
    published_file_present,
    saved_state,
    situation,
)
from acbatch.runner.polling import LatencyBook, PollSchedule
from acbatch.runner.state import (
    HISTORY_LIMIT,
    Download,
    EpisodeState,
    Mastered,
    Phase,
    StateStore,
    StepRecord,
    now_iso,
    parse_iso,
)
from acbatch.store import StoreError
from acbatch.voices import VoiceCatalog

if TYPE_CHECKING:
    # The API client (requests), the downloader and the review gate (jsonschema) are imported
    # where they are used, so a run with nothing left to do does not pay for loading them.
    from acbatch.api import errors as api_errors
    from acbatch.api.client import PodcastClient, Task
    from acbatch.runner.download import DownloadedAudio

SCRIPT_RESULT_FIELDS = (
    "title",
    "processed_content",
    "podcast_script",
    "hightlights",
    "podcast_script_txt",
    "source_data",
    "train_data",
)
AUDIO_RESULT_FIELDS = (
    "file_url",
    "title",
    "processed_content",
    "podcast_script",
    "hightlights",
    "podcast_script_txt",
)
DOWNLOAD_RETRIES = 3
# A status answer that is garbage (not a network blip) is asked again this often, then fails.
NONTRANSIENT_POLL_RETRIES = 2


class Outcome(str, Enum):
    DONE = "done"
    REVIEW = "awaiting_review"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    AUDIO_LOST = "audio_lost"
    KEPT = "kept"
    """The task is kept, to be polled again by the next run (an answer acbatch could not read)."""
    BUDGET = "over_budget"
    NO_CREDITS = "insufficient_credits"
    ABORTED = "aborted"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


PROBLEM_OUTCOMES = frozenset(
    {
        Outcome.FAILED,
        Outcome.UNCERTAIN,
        Outcome.TIMED_OUT,
        Outcome.LOST,
        Outcome.AUDIO_LOST,
        Outcome.KEPT,
        Outcome.ABORTED,
        Outcome.CANCELLED,
    }
)
BUDGET_OUTCOMES = frozenset({Outcome.BUDGET, Outcome.NO_CREDITS})
# Where a decision that ends an episode's turn leaves it.
FINAL_OUTCOMES: dict[Action, Outcome] = {
    Action.WAIT_REVIEW: Outcome.REVIEW,
    Action.REVIEW_INVALID: Outcome.FAILED,
    Action.UNCERTAIN: Outcome.UNCERTAIN,
    Action.FAILED: Outcome.FAILED,
    Action.LOST: Outcome.LOST,
    Action.AUDIO_LOST: Outcome.AUDIO_LOST,
    Action.WRONG_HOST: Outcome.FAILED,
    Action.OVER_BUDGET: Outcome.BUDGET,
    Action.DONE: Outcome.DONE,
    Action.RENDER: Outcome.DONE,
    Action.DRAFT: Outcome.SKIPPED,
}
TASK_NOT_FOUND_ASKS = 3
"""101008 on a status call is asked again this often before the task is declared lost."""
CANCEL_GRACE = 1.0
"""After a cancel, how long finishing episodes may take to save, once no create is on the wire."""
POLL_READ_TIMEOUT = 5.0
"""A status answer slower than this (or the read timeout, if shorter) is given up on and asked
again: a poll is a small read, and a hung one must not hold its slot for the full read timeout."""
MIN_POLL_RETRY = 0.05
"""After a status answer that never came, the next poll waits only this long."""
SLOT_ACTIONS = frozenset({Action.CREATE_AUDIO, Action.POLL_SCRIPT, Action.POLL_AUDIO})
"""What an episode may do next with the slot it holds (from its create, or handed on by its
finished script task)."""
SPARE_WORKERS = 1.0
"""Workers beyond `jobs` (more than one), as a share of it (at least one): while the workers
of a wave of finished tasks download, master and save, as many spare ones already hold the
next episodes and take the freed slots at once."""


@dataclass
class EpisodeResult:
    id: str
    outcome: Outcome
    phase: str
    message: str = ""
    credits: int = 0
    """Credits charged in this run."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome.value,
            "phase": self.phase,
            "message": self.message,
            "credits": self.credits,
        }


@dataclass
class RunSummary:
    results: list[EpisodeResult] = field(default_factory=list)
    requests: int = 0
    creates: dict[str, int] = field(default_factory=lambda: {"script": 0, "audio": 0})
    aborted: str | None = None
    cancelled: str | None = None
    """The signal that cancelled the run (SIGINT or SIGTERM), if one did."""
    concurrency_refusals: int = 0
    rate_refusals: int = 0
    elapsed: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def exit_code(self) -> int:
        if self.cancelled:
            return CANCEL_EXIT_CODES.get(self.cancelled, 130)
        if any(r.outcome in PROBLEM_OUTCOMES for r in self.results) or self.aborted:
            return 1
        if any(r.outcome in BUDGET_OUTCOMES for r in self.results):
            return 4
        return 0

    def to_json(self) -> dict[str, Any]:
        outcomes = {o.value: self.count(o) for o in Outcome if self.count(o)}
        return {
            "episodes": [r.to_json() for r in self.results],
            "outcomes": outcomes,
            "credits_charged": sum(r.credits for r in self.results),
            "requests": self.requests,
            "creates": dict(self.creates),
            "billed_creates": self.creates.get("audio", 0),
            "aborted": self.aborted,
            "cancelled": self.cancelled,
            "concurrency_refusals": self.concurrency_refusals,
            "rate_refusals": self.rate_refusals,
            "elapsed_seconds": round(self.elapsed, 3),
            "exit_code": self.exit_code,
        }


CANCEL_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


@dataclass
class RunOptions:
    """How one run goes: acbatch.yaml's `api:` settings and the command line's (no defaults of
    its own, so nothing here can disagree with the schema's)."""

    jobs: int
    max_attempts: int
    retries: int
    poll_initial: float
    poll_max_interval: float
    deadline: float
    download_max_bytes: int
    download_seconds: float
    """Wall-clock limit of one download attempt (api.timeouts.download)."""
    timeouts: tuple[float, float]
    budget_left: int | None = None
    """Credits the run may commit to (the tightest of --max-credits and the show's budgets)."""
    words: dict[str, Word] = field(default_factory=dict)
    """The user's word per episode id (--retry-uncertain, retry, redo, adopt)."""
    seed: int | None = None


Reporter = Callable[[str, str, str], None]
"""(episode id, phase or event, message) -> None"""


class _Stop(Exception):
    """Ends one episode's drive with an outcome."""

    def __init__(self, outcome: Outcome, message: str = "") -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def episode_guid(base_url: str, episode_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url.rstrip('/')}/#episode/{episode_id}"))


def audio_path(project: Project, episode: Episode) -> Path:
    """The published MP3 (mastered locally from the original): output/episodes/<id>/<id>.mp3,
    or in a show published per language, inside its language's folder:
    output/<code>/episodes/<id>/<id>.mp3."""
    output = project.config.paths.output
    if episode.output_language:
        output = output / episode.output_language
    return output / "episodes" / episode.id / f"{episode.id}.mp3"


def original_audio_path(project: Project, episode: Episode) -> Path:
    """The API's audio as downloaded, kept beside the published MP3 (and served with the site,
    so a run elsewhere can fetch it again for free) but never in the feed: a change of jingle or
    loudness is made from it locally, at no API cost."""
    return audio_path(project, episode).with_name(f"{episode.id}{ORIGINAL_AUDIO_SUFFIX}")


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _copy_into(root: Path, former: Path, destination: Path) -> str | None:
    """`former` copied to `destination` (temporary file, then rename); the new path relative to
    the project, or None when there is no former file."""
    if former.resolve() == destination.resolve():
        return _relative(destination, root)
    if not former.is_file():
        return None
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.carry.tmp")
    shutil.copyfile(former, temporary)
    os.replace(temporary, destination)
    return _relative(destination, root)


def published_audio_url(project: Project, episode: Episode) -> str | None:
    """Where the published site serves the episode's audio (output/ served at show.base_url)."""
    return _site_url(project, original_audio_path(project, episode))


def published_download_url(project: Project, state: EpisodeState) -> str | None:
    """Where the published site served the audio file the state last had: for an episode
    carried over from its spec's id before a language matrix, output/episodes/<spec id>/."""
    if state.download is None:
        return None
    return _site_url(project, project.config.paths.root / state.download.path)


def _site_url(project: Project, path: Path) -> str | None:
    """The URL of a file under output/ on the published site; None without show.base_url or
    for a file outside output/."""
    from acbatch.publish.feedurls import base_folder_url

    base = project.config.show.base_url
    path = Path(os.path.normpath(path))
    output = Path(os.path.normpath(project.config.paths.output))
    if not base or not path.is_relative_to(output):
        return None
    return base_folder_url(base) + path.relative_to(output).as_posix()


def is_review_error(exc: BaseException) -> bool:
    """Whether `exc` is the review gate's ReviewError (its module loaded only once used)."""
    review = sys.modules.get("acbatch.runner.review")
    return review is not None and isinstance(exc, review.ReviewError)


def seconds_since(iso: str | None) -> float:
    moment = parse_iso(iso)
    if moment is None:
        return 0.0
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


class Runner:
    def __init__(
        self,
        project: Project,
        store: StateStore,
        client: Callable[[], PodcastClient | None] | PodcastClient | None,
        options: RunOptions,
        *,
        service: str,
        catalog: VoiceCatalog | None = None,
        report: Reporter | None = None,
        locate_audio: Callable[[str], str] | None = None,
        api_base_url: str | None = None,
        lock_held: Callable[[], bool] | None = None,
        finished: Callable[[Episode, EpisodeState], None] | None = None,
    ) -> None:
        self.project = project
        self.finished = finished
        """Told of each episode this run finishes (downloaded and mastered), from its worker."""
        self.locate_audio = locate_audio or (lambda url: url)
        self.api_base_url = api_base_url
        self.lock_held = lock_held or (lambda: True)
        """Whether this run still holds the project's locks; checked before every create."""
        self.store = store
        self._client_source = client
        # A factory is called when the first episode needs the API; a client is used as is.
        self._client: PodcastClient | None = None if client is None or callable(client) else client
        self._client_lock = threading.Lock()
        self.options = options
        self.service = service
        """Where this run's tasks live: the API base URL, or the sandbox."""
        self.catalog = catalog
        self.report: Reporter = report or (lambda _id, _event, _message: None)
        self.limit = AdaptiveLimit(options.jobs)
        self.backoff = Backoff(seed=options.seed)
        self.rate_gate = RateGate(self.backoff)
        self.budget = CreditBudget(options.budget_left)
        self.latency = LatencyBook(options.poll_initial, options.poll_max_interval)
        # The task times learnt by earlier runs against the same service are the prior.
        self.latency.load(store.folder, service)
        self.stop = threading.Event()
        # One episode is mastered at a time: it takes the CPU and a few times the audio's size
        # in memory, and the workers otherwise wait on the network.
        self._mastering = threading.Lock()
        self._slot = threading.local()
        self.out_of_credits = False
        self.aborted: str | None = None
        self.cancelled: str | None = None
        self._cancelled_at: float | None = None
        self._wire = threading.Condition()
        self._creates_on_wire = 0
        self.creates = {"script": 0, "audio": 0}
        self._live: dict[str, EpisodeState] = {}

    # -- the client is made only when an episode needs the API -------------------------------

    @property
    def client(self) -> PodcastClient:
        with self._client_lock:
            if self._client is None:
                made = self._client_source() if callable(self._client_source) else None
                if made is None:
                    # No factory, or one that found no API key.
                    self._abort("no API key: set AUDIOCLEANER_API_KEY, or run with --sandbox")
                self._client = made
                if made.poll_read_timeout is None:
                    # A status answer that hangs gives its slot back early (asked again later).
                    made.poll_read_timeout = min(made.timeout[1], POLL_READ_TIMEOUT)
            assert self._client is not None
            return self._client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent if self._client is not None else 0

    # -- cancellation --------------------------------------------------------------------------

    def cancel(self, signal_name: str = "SIGINT") -> None:
        """Stop at once: no create leaves after this; one already on the wire may finish."""
        with self._wire:
            if self.cancelled is None:
                self.cancelled = signal_name
                self._cancelled_at = time.monotonic()
        self.stop.set()

    def creates_on_wire(self) -> int:
        with self._wire:
            return self._creates_on_wire

    # -- the run -------------------------------------------------------------------------------

    def run(self, episodes: Sequence[Episode]) -> RunSummary:
        started = time.monotonic()
        summary = RunSummary()
        # Every episode decided first (as `plan` decides them), then carried over and driven.
        # An episode whose decision ends its turn without recording anything is settled here:
        # that costs less than handing it to a worker, and its state is not kept meanwhile
        # (a resumed run of 50,000 finished episodes holds none of them at once).
        results: dict[str, EpisodeResult] = {}
        planned: list[tuple[Situation, Decision]] = []
        for current, decision in plan_run(
            self.project,
            self.store,
            episodes,
            service=self.service,
            budget=self.budget,
            words=self.options.words,
            max_attempts=self.options.max_attempts,
        ):
            carried = current.state is not None and current.state.carried_from
            if not carried and self._settled(current, decision, results):
                continue
            planned.append((current, decision))
        # The rest go to the workers.
        pending: list[tuple[Situation, Decision]] = []
        for current, decision in planned:
            if current.state is not None and current.state.carried_from:
                problem = self._carry_over(current)
                if problem is not None:
                    phase = current.state.phase.value
                    results[current.episode.id] = EpisodeResult(
                        current.episode.id, Outcome.FAILED, phase, problem
                    )
                    self.report(current.episode.id, Outcome.FAILED.value, problem)
                    continue
            if not self._settled(current, decision, results):
                pending.append((current, decision))
        del planned
        if pending:
            self._load_mastering_libraries()
            try:
                self._drive_all(pending, results)
            finally:
                self._save_latency()
        summary.results = [results[e.id] for e in episodes]
        summary.requests = self.requests_sent
        summary.creates = dict(self.creates)
        summary.aborted = self.aborted
        summary.cancelled = self.cancelled
        summary.concurrency_refusals = self.limit.refusals
        summary.rate_refusals = self.rate_gate.refusals
        summary.elapsed = time.monotonic() - started
        return summary

    def _settled(
        self, current: Situation, decision: Decision, results: dict[str, EpisodeResult]
    ) -> bool:
        """Settle an episode whose decision ends its turn without recording anything."""
        if not decision.final or decision.moves or decision.action == Action.WAIT_REVIEW:
            return False
        outcome = FINAL_OUTCOMES[decision.action]
        message = "" if outcome == Outcome.DONE else decision.reason
        phase = current.state.phase.value if current.state else "new"
        results[current.episode.id] = EpisodeResult(current.episode.id, outcome, phase, message)
        self.report(current.episode.id, outcome.value, message)
        return True

    def _load_mastering_libraries(self) -> None:
        """Mastering's libraries take about a second to import: a daemon thread imports them
        while the first tasks run, rather than the worker that first masters an episode
        (its slot would stand idle meanwhile)."""
        from acbatch.publish.mastering import load_libraries, settings_for

        if settings_for(self.project.config.audio).processes:
            threading.Thread(target=load_libraries, name="load-mastering", daemon=True).start()

    def _drive_all(
        self, pending: list[tuple[Situation, Decision]], results: dict[str, EpisodeResult]
    ) -> None:
        """Drive the pending episodes on daemon worker threads until done or cancelled.

        Daemon threads, so that a cancelled run can exit while a status poll is still waiting
        for its answer: every state change is already on disk, and the next run resumes.
        """
        work: queue.SimpleQueue[tuple[Situation, Decision]] = queue.SimpleQueue()
        for item in pending:
            work.put(item)
        finished = threading.Condition()

        def worker() -> None:
            while True:
                try:
                    current, _decision = work.get_nowait()
                except queue.Empty:
                    return
                if self.stop.is_set():
                    result = self._stopped_result(current)
                else:
                    result = self._drive_safely(current)
                with finished:
                    results[current.episode.id] = result
                    finished.notify_all()

        jobs = max(1, self.options.jobs)
        # One job is one episode at a time, strictly: no spare worker.
        workers = jobs + (max(1, int(jobs * SPARE_WORKERS)) if jobs > 1 else 0)
        for index in range(min(workers, len(pending))):
            threading.Thread(target=worker, name=f"episode-{index}", daemon=True).start()
        waiting_for = {current.episode.id for current, _decision in pending}
        with finished:
            while not waiting_for <= results.keys():
                finished.wait(0.05)
                if self._cancel_settled():
                    break
        for current, _decision in pending:
            if current.episode.id not in results:
                results[current.episode.id] = self._stopped_result(current)

    def _save_latency(self) -> None:
        """Keep what this run learnt about task times for the next one (best effort)."""
        with contextlib.suppress(OSError, StoreError):
            self.latency.save(self.store.folder, self.service)

    def _cancel_settled(self) -> bool:
        """After a cancel: no create on the wire, and the grace for saving has passed."""
        with self._wire:
            if self._cancelled_at is None or self._creates_on_wire:
                return False
            return time.monotonic() - self._cancelled_at >= CANCEL_GRACE

    def _stopped_result(self, current: Situation) -> EpisodeResult:
        state = self._live.get(current.episode.id) or current.state
        phase = state.phase.value if state else "new"
        if self.cancelled:
            return EpisodeResult(
                current.episode.id,
                Outcome.CANCELLED,
                phase,
                f"cancelled ({self.cancelled}) at {phase}; the next run resumes",
            )
        return EpisodeResult(current.episode.id, Outcome.ABORTED, phase, self.aborted or "stopped")

    def _drive_safely(self, current: Situation) -> EpisodeResult:
        episode = current.episode
        self._slot.held = False
        self._slot.created = None
        self._slot.charged = 0
        try:
            state = saved_state(self.store, episode) or self._new_state(episode)
        except StoreError as exc:
            return EpisodeResult(episode.id, Outcome.FAILED, "unknown", str(exc))
        self._live[episode.id] = state
        try:
            outcome, message = self._drive(current, state)
        except _Stop as stop:
            outcome, message = stop.outcome, stop.message
        except StoreError as exc:
            # The disk refused a state write: nothing later may act on unsaved state.
            self.aborted = self.aborted or str(exc)
            self.stop.set()
            outcome, message = Outcome.ABORTED, str(exc)
        except Exception as exc:  # a bug must not take the other episodes down with it
            if is_review_error(exc):
                outcome, message = Outcome.FAILED, str(exc)
            else:
                outcome, message = Outcome.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if self._slot.held:
                self._slot.held = False
                self.limit.release(finished=False)
        if outcome in (Outcome.ABORTED,) and self.cancelled:
            outcome = Outcome.CANCELLED
            message = (
                f"cancelled ({self.cancelled}) at {state.phase.value}; the next run resumes it"
            )
        self.report(episode.id, outcome.value, message)
        return EpisodeResult(episode.id, outcome, state.phase.value, message, self._slot.charged)

    def _carry_over(self, current: Situation) -> str | None:
        """Save the state carried over to this episode (StateStore.load_or_carry) under its id,
        with its audio and review file; None, or why it could not be (nothing is sent then).

        The audio and the review file are put in place first, then the state is saved, then
        the former state is marked and the former review file removed: a kill before the save
        leaves the former state as it was (the next run carries it again, and finds the files
        in place), a kill after it leaves the work in the new state (the next run marks the
        former one). Already saved (an earlier run carried it), only the marking is checked.
        """
        state = current.state
        episode = current.episode
        assert state is not None and state.carried_from is not None
        former_review: Path | None = None
        carrying = not self.store.path_for(episode.id).exists()
        try:
            if carrying:
                self._carry_audio(episode, state)
                if episode.review == "required":
                    from acbatch.runner import review

                    former_review = review.carry_review_file(episode, state.carried_from)
                note = f"carried over from {state.carried_from}: the same script, paid once"
                moment = {"at": now_iso(), "from": state.phase.value, "to": state.phase.value}
                state.history = [*state.history, {**moment, "note": note}][-HISTORY_LIMIT:]
            self.store.settle_carry(state)
            if former_review is not None:
                former_review.unlink(missing_ok=True)
        except (OSError, StoreError) as exc:
            return f"the work of {state.carried_from} could not be carried over: {exc}"
        if carrying:
            self.report(episode.id, "carried", f"carried over from {state.carried_from}")
        return None

    def _carry_audio(self, episode: Episode, state: EpisodeState) -> None:
        """Copy a carried-over episode's audio (the API's original and the published MP3 made
        from it) from where its former id kept it to where this episode keeps it. Copies, not
        links: publishing tags the published file in place, per language, and the former files
        stay for the former feed. A missing former original is left to the decision, which
        fetches the audio again at no cost; a missing published file is mastered again."""
        root = self.project.config.paths.root
        download = state.download
        if download is not None:
            copied = _copy_into(
                root, root / download.path, original_audio_path(self.project, episode)
            )
            if copied is not None:
                state.download = dataclasses.replace(download, path=copied)
        mastered = state.mastered
        if mastered is not None:
            copied = _copy_into(root, root / mastered.path, audio_path(self.project, episode))
            state.mastered = dataclasses.replace(mastered, path=copied) if copied else None

    def _new_state(self, episode: Episode) -> EpisodeState:
        base_url = self.project.config.show.base_url
        return EpisodeState(id=episode.id, guid=episode_guid(base_url, episode.id))

    def _save(self, state: EpisodeState) -> None:
        self.store.save(state)
        self.report(state.id, state.phase.value, (state.error or {}).get("message", ""))

    # -- the state machine -----------------------------------------------------------------------

    def _drive(self, current: Situation, state: EpisodeState) -> tuple[Outcome, str]:
        episode = current.episode
        word = self.options.words.get(episode.id, Word())
        while True:
            if self.aborted:
                raise _Stop(Outcome.ABORTED, self.aborted)
            if self.cancelled:
                raise _Stop(Outcome.CANCELLED, "")
            decision = current.decide(
                service=self.service,
                word=word,
                max_attempts=self.options.max_attempts,
                budget_left=self.budget.available(episode.id),
                state=state,
                audio_present=audio_file_present(self.project, state),
                published_present=published_file_present(self.project, state),
            )
            # The user's word is used once: a resent create is not resent again in this run.
            word = Word()
            if getattr(self._slot, "held", False) and decision.action not in SLOT_ACTIONS:
                # The slot handed on by the finished script task is not needed after all. (A
                # slot taken for a create is kept for polling its task: given back between the
                # two, a waiting worker would take it and send one create too many.)
                self._slot.held = False
                self.limit.release(finished=False)
            for move in decision.moves:
                self._record(state, move, current)
            action = decision.action
            if action == Action.CREATE_SCRIPT:
                self._hold(episode.id, decision)
                self._create_script(current, state)
            elif action == Action.POLL_SCRIPT:
                had_script = state.script.result
                self._poll(state, "script", episode.duration_level)
                if state.script.result is not had_script:
                    # The audio fingerprint counts the show's dictionary where the script
                    # says its words: read the situation again with the finished script.
                    current = situation(self.project, episode, state)
            elif action == Action.CREATE_AUDIO:
                self._hold(episode.id, decision)
                self._create_audio(current, state)
            elif action == Action.POLL_AUDIO:
                self._poll(state, "audio", episode.duration_level)
            elif action == Action.DOWNLOAD:
                self._download(episode, state)
            elif action == Action.MASTER:
                self._master(episode, state)
            elif action == Action.WAIT_REVIEW:
                from acbatch.runner import review

                review.write_review_file(episode, state)
                return Outcome.REVIEW, decision.reason
            else:
                outcome = FINAL_OUTCOMES[action]
                if outcome == Outcome.DONE and self.finished is not None:
                    self.finished(episode, state)
                return outcome, "" if outcome == Outcome.DONE else decision.reason

    def _hold(self, episode_id: str, decision: Decision) -> None:
        if not self.budget.hold(episode_id, decision.credits[1]):  # pragma: no cover - decided
            raise _Stop(Outcome.BUDGET, "the credit budget is used up")

    def _record(self, state: EpisodeState, move: Move, current: Situation) -> None:
        """Record one move of the decision, saved before anything else happens."""
        if "script" in move.reset:
            state.script = StepRecord()
        if "audio" in move.reset:
            state.audio = StepRecord()
        if "failures" in move.reset:
            state.failures = 0
        if move.to == Phase.UNCERTAIN:
            step = "script" if state.phase == Phase.SCRIPT_SENDING else "audio"
            state.fail(Phase.UNCERTAIN, step, "uncertain", move.note)
        elif move.adopt is not None:
            step = "script" if move.to == Phase.SCRIPT_REQUESTED else "audio"
            record = StepRecord(
                fingerprint=current.facts.script
                if step == "script"
                else (
                    current.facts.audio_reviewed if current.review_script else current.facts.audio
                ),
                service=self.service,
                global_id=move.adopt,
                requested_at=now_iso(),
            )
            if step == "script":
                state.script = record
            else:
                state.audio = record
            state.move(move.to, move.note)
        else:
            state.move(move.to, move.note)
        self._save(state)

    # -- creates -----------------------------------------------------------------------------------

    def _estimate(self, episode: Episode) -> int:
        return codes.credit_range(episode.duration_level)[1]

    def _fail(
        self, state: EpisodeState, step: str, kind: str, message: str, code: int | None = None
    ) -> None:
        """A step failed for good this time: counted, for the automatic retry limit."""
        state.failures += 1
        state.fail(Phase.FAILED, step, kind, message, code)
        self._save(state)
        raise _Stop(Outcome.FAILED, message)

    def _create_script(self, current: Situation, state: EpisodeState) -> None:
        from acbatch.sources import SourceError

        episode = current.episode
        try:
            body = bodies.script_request(episode)
        except SourceError as exc:
            self._fail(state, "script", "source", f"{episode.source.value}: {exc}")
        record = StepRecord(
            fingerprint=current.facts.script,
            inputs=bodies.field_digests(bodies.script_inputs(episode)),
            request_fingerprint=bodies.digest(body),
            service=self.service,
        )
        state.script = record
        self._send_create(
            state, "script", record, lambda: self.client.create_script(body), Phase.NEW
        )

    def _create_audio(self, current: Situation, state: EpisodeState) -> None:
        episode = current.episode
        script = state.script
        assert script.result is not None and script.global_id is not None  # decided
        review_script = current.review_script if current.review.approves(script.global_id) else None
        config = self.project.config
        try:
            body = bodies.audio_request(
                episode,
                script.result,
                script.global_id,
                catalog=self.catalog,
                review_script=review_script,
                config=config,
            )
        except TemplateError as exc:
            self._fail(state, "audio", "template", str(exc))
        state.credits_estimated = self._estimate(episode)
        inputs = bodies.audio_inputs(
            episode, review_script, config=config, script_result=script.result
        )
        record = StepRecord(
            fingerprint=current.facts.audio_reviewed if review_script else current.facts.audio,
            inputs=bodies.field_digests(inputs),
            request_fingerprint=bodies.digest(body),
            service=self.service,
        )
        state.audio = record
        self._send_create(
            state, "audio", record, lambda: self.client.create_audio(body), Phase.SCRIPT_READY
        )

    def _send_create(
        self,
        state: EpisodeState,
        step: str,
        record: StepRecord,
        send: Callable[[], str],
        before: Phase,
    ) -> None:

        sending = Phase.SCRIPT_SENDING if step == "script" else Phase.AUDIO_SENDING
        requested = Phase.SCRIPT_REQUESTED if step == "script" else Phase.AUDIO_REQUESTED
        attempt = 0
        while True:
            if self.out_of_credits:
                raise _Stop(Outcome.NO_CREDITS, "not sent: the account is out of credits (100100)")
            if self.aborted:
                raise _Stop(Outcome.ABORTED, self.aborted)
            _ = self.client  # made (or the run aborted for want of a key) before a slot is taken
            # A slot handed on by the episode's finished script task is used as is.
            if not getattr(self._slot, "held", False) and not self.limit.acquire(self.stop):
                raise _Stop(Outcome.ABORTED, self.aborted or "stopped")
            self._slot.held = True
            self.rate_gate.wait(self.stop)
            if not self.lock_held():
                self.limit.release(finished=False)
                self._abort(
                    "this run no longer holds the project's lock (its folder or the remote lock "
                    "was taken over): no further create is sent; run again"
                )
            with self._wire:
                # Past this point the create is on the wire: a cancel lets it finish and save.
                if self.cancelled or self.aborted:
                    self._slot.held = False
                    self.limit.release(finished=False)
                    raise _Stop(Outcome.CANCELLED if self.cancelled else Outcome.ABORTED, "")
                self._creates_on_wire += 1
            try:
                global_id = self._send_once(
                    state, step, record, send, attempt + 1, sending, requested, before
                )
            finally:
                with self._wire:
                    self._creates_on_wire -= 1
            attempt += 1
            if global_id is not None:
                return

    def _send_once(
        self,
        state: EpisodeState,
        step: str,
        record: StepRecord,
        send: Callable[[], str],
        attempt: int,
        sending: Phase,
        requested: Phase,
        before: Phase,
    ) -> str | None:
        """One create: intent saved, sent, its task id saved. None: refused, try again."""
        from acbatch.api import errors as api_errors

        record.attempts += 1
        record.sent_at = now_iso()
        state.move(sending, f"sending the {step} create (attempt {attempt})")
        self._save(state)
        failpoint("before_create")
        try:
            global_id = send()
            # A task's age counts from here, as close to the service's create as this side sees.
            self._slot.created = time.monotonic()
        except api_errors.ApiError as exc:
            self._slot.held = False
            self.limit.release(finished=False)
            if exc.processed is not False:
                state.fail(
                    Phase.UNCERTAIN,
                    step,
                    "uncertain",
                    f"the {step} create's outcome is unknown ({exc}); it may have been "
                    "created (and billed), so acbatch will not resend it. Check your "
                    f"account, then `acbatch adopt {state.id} --{step}-task ID` or "
                    f"`acbatch run --retry-uncertain {state.id}`",
                )
                self._save(state)
                raise _Stop(Outcome.UNCERTAIN, (state.error or {}).get("message", "")) from None
            state.move(before, f"not sent: {exc}")
            self._save(state)
            self._after_refusal(exc, state, step, attempt)
            return None
        failpoint("after_create")
        with self._wire:
            self.creates[step] += 1
        self.rate_gate.passed()
        record.global_id = global_id
        record.requested_at = now_iso()
        state.move(requested, f"{step} task {global_id}")
        self._save(state)
        return global_id

    def _after_refusal(
        self, exc: api_errors.ApiError, state: EpisodeState, step: str, attempt: int
    ) -> None:
        """A create provably not processed: wait and retry, or stop the episode or the run."""
        from acbatch.api import errors as api_errors

        if isinstance(exc, api_errors.ConcurrencyLimited):
            self.limit.refused()
            # While our own tasks are in flight, a slot frees as each finishes: wait for one
            # rather than spending the retry budget.
            if self.limit.in_use > 0 or attempt <= self.options.retries * 4:
                self.stop.wait(self.backoff.delay(0) / 4)
                return
        elif isinstance(exc, api_errors.RateLimited):
            self.rate_gate.limited()
            if attempt <= self.options.retries * 2:
                return
        elif isinstance(exc, api_errors.InsufficientCredits):
            self.out_of_credits = True
            raise _Stop(Outcome.NO_CREDITS, "the account is out of credits (100100)")
        elif isinstance(
            exc, api_errors.InvalidApiKey | api_errors.AccountSuspended | api_errors.KeyNotEnabled
        ):
            self._abort(f"{exc}: fix the API key or the account, then run again")
        elif exc.retryable and attempt <= self.options.retries:
            self.stop.wait(self.backoff.delay(attempt))
            return
        self._fail(state, step, type(exc).__name__, f"the {step} create failed: {exc}")

    def _abort(self, reason: str) -> NoReturn:
        self.aborted = self.aborted or reason
        self.stop.set()
        raise _Stop(Outcome.ABORTED, reason)

    # -- polls -------------------------------------------------------------------------------------

    def _poll(self, state: EpisodeState, step: str, level: int | None = None) -> None:
        """Poll the step's task until it is done, on the latency model's schedule.

        Every poll is dated by when it was sent: what a poll proves about the task's finish holds
        at that moment, however long its answer takes (see acbatch.runner.polling).
        """
        from acbatch.api import errors as api_errors

        record = state.script if step == "script" else state.audio
        ready = Phase.SCRIPT_READY if step == "script" else Phase.AUDIO_READY
        assert record.global_id is not None
        schedule: PollSchedule = self.latency.schedule(step, level)
        get = self.client.get_script if step == "script" else self.client.get_audio
        # The task's age: exact for a task this worker just created, else from the saved time.
        fresh = getattr(self._slot, "created", None)
        created = (
            fresh if fresh is not None else time.monotonic() - seconds_since(record.requested_at)
        )
        self._slot.created = None
        # A task polled right after its create holds the slot taken for the create; a task
        # resumed from disk takes one now.
        if not getattr(self._slot, "held", False) and not self.limit.acquire(self.stop):
            raise _Stop(Outcome.ABORTED, self.aborted or "stopped")
        self._slot.held = True
        due = schedule.first_age()
        errors_in_a_row = 0
        not_found = 0
        freed = False
        try:
            while True:
                if schedule.wait_until(due, lambda: time.monotonic() - created, self.stop):
                    raise _Stop(Outcome.ABORTED, self.aborted or "stopped")
                self.rate_gate.wait(self.stop)
                sent_at = time.monotonic() - created
                try:
                    task = get(record.global_id)
                except api_errors.TaskNotFound:
                    not_found += 1
                    if not_found < TASK_NOT_FOUND_ASKS:
                        due = time.monotonic() - created + self.backoff.delay(not_found + 2)
                        continue
                    state.fail(
                        Phase.LOST,
                        step,
                        "task_not_found",
                        f"the service does not know {step} task {record.global_id} (101008, "
                        f"asked {not_found} times); `acbatch retry {state.id}` creates it again",
                        codes.TASK_NOT_FOUND,
                    )
                    self._save(state)
                    raise _Stop(Outcome.LOST, (state.error or {}).get("message", "")) from None
                except api_errors.InsufficientCredits:
                    # The task is paid for and may still finish: keep it for the next run.
                    self.out_of_credits = True
                    self._keep(state, step, "the account is out of credits (100100)")
                    raise _Stop(
                        Outcome.NO_CREDITS,
                        f"the account is out of credits (100100); {step} task "
                        f"{record.global_id} is kept and polled again by the next run",
                    ) from None
                except (api_errors.InvalidApiKey, api_errors.AccountSuspended) as exc:
                    self._abort(f"{exc}: fix the API key or the account, then run again")
                except api_errors.ApiError as exc:
                    if isinstance(exc, api_errors.RateLimited):
                        self.rate_gate.limited()
                    errors_in_a_row += 1
                    transient = exc.retryable or isinstance(exc, api_errors.TransportError)
                    if not transient and errors_in_a_row > NONTRANSIENT_POLL_RETRIES:
                        # The service never said the task failed: it stays ours to poll.
                        message = (
                            f"the {step} task {record.global_id} could not be read ({exc}); "
                            "it is kept and polled again by the next run"
                        )
                        self._keep(state, step, message)
                        raise _Stop(Outcome.KEPT, message) from None
                    now = time.monotonic() - created
                    if isinstance(exc, api_errors.ResponseLost):
                        # A hung or dropped status answer (given up on after the poll
                        # timeout): say so, and ask again on a fresh connection.
                        self.report(
                            state.id,
                            "poll_retry",
                            f"no answer to the {step} task {record.global_id} status poll after "
                            f"{now - sent_at:.1f}s ({exc}); asking again",
                        )
                    first_loss = errors_in_a_row == 1 and isinstance(exc, api_errors.ResponseLost)
                    due = now + (
                        MIN_POLL_RETRY
                        if first_loss
                        else self.backoff.delay(min(errors_in_a_row, 8))
                    )
                    if now > self.options.deadline:
                        self._time_out(state, step, record, f"last error: {exc}")
                    continue
                errors_in_a_row = 0
                self.rate_gate.passed()
                record.polls += 1
                if task.waiting:
                    if time.monotonic() - created > self.options.deadline:
                        self._time_out(state, step, record, "still waiting")
                    due = schedule.next_age(sent_at)
                    continue
                if task.failed:
                    self._fail(
                        state, step, "task_failed", f"the {step} task failed: {task.failure_reason}"
                    )
                failpoint("after_poll")
                if fresh is not None:
                    # A task resumed from disk finished at some unknown moment before this
                    # poll: its age says nothing about how long tasks take.
                    schedule.done(sent_at)
                # The service no longer counts the task: its slot goes to the next create now,
                # while this worker saves the result.
                self._free_slot(step, finished=True)
                freed = True
                record.result = self._kept_fields(task, step)
                record.completed_at = now_iso()
                state.failures = 0
                state.move(ready, f"{step} task done after {record.polls} polls")
                self._save(state)
                return
        finally:
            if not freed:
                self._free_slot(step, finished=False)

    def _free_slot(self, step: str, *, finished: bool) -> None:
        """A polled task's slot, once it finished or its polling stopped: a finished script
        task hands it straight to the episode's audio create; otherwise it is released."""
        keep = finished and step == "script" and self.limit.hand_on()
        if not keep:
            self.limit.release(finished=True)
        self._slot.held = keep

    def _keep(self, state: EpisodeState, step: str, message: str) -> None:
        """Leave the task in flight, with the reason shown by `status`."""
        state.error = {"kind": "kept", "message": message[:1000], "step": step, "at": now_iso()}
        self._save(state)

    def _time_out(self, state: EpisodeState, step: str, record: StepRecord, detail: str) -> None:
        state.fail(
            Phase.TIMED_OUT,
            step,
            "timed_out",
            f"the {step} task {record.global_id} passed the {self.options.deadline:g}s deadline "
            f"({detail}); the next run resumes polling it",
        )
        self._save(state)
        raise _Stop(Outcome.TIMED_OUT, (state.error or {}).get("message", "timed out"))

    @staticmethod
    def _kept_fields(task: Task, step: str) -> dict[str, Any]:
        wanted = SCRIPT_RESULT_FIELDS if step == "script" else AUDIO_RESULT_FIELDS
        return {name: task.data[name] for name in wanted if name in task.data}

    # -- mastering ---------------------------------------------------------------------------------

    def _master(self, episode: Episode, state: EpisodeState) -> None:
        """The published MP3 from the downloaded one, made here: no API call, no credits."""
        from acbatch.publish.mastering import MasteringError, master, settings_for

        assert state.download is not None  # decided
        root = self.project.config.paths.root
        published = audio_path(self.project, episode)
        original = root / state.download.path
        if original == published:
            # Downloaded before acbatch kept the original apart: it is the original.
            kept = original_audio_path(self.project, episode)
            os.replace(original, kept)
            state.download.path = _relative(kept, root)
            self._save(state)
            original = kept
        audio = self.project.config.audio
        inputs = bodies.mastering_inputs(audio)
        try:
            with self._mastering:
                made = master(original, published, settings_for(audio))
        except (MasteringError, OSError) as exc:
            self._keep(state, "master", f"the audio could not be mastered: {exc}")
            raise _Stop(Outcome.FAILED, (state.error or {}).get("message", "")) from None
        state.mastered = Mastered(
            path=_relative(published, root),
            fingerprint=bodies.digest(inputs),
            speech_start=made.speech_start,
            speech_seconds=round(made.speech_seconds, 3),
            duration=round(made.duration, 3),
            bytes=made.bytes,
            source=state.download.sha256,
            inputs=bodies.field_digests(inputs),
            loudness=made.loudness,
            true_peak=made.true_peak,
            mastered_at=now_iso(),
        )
        state.error = None
        self._save(state)

    # -- download ----------------------------------------------------------------------------------

    def _fetch(self, url: str, destination: Path) -> DownloadedAudio:
        from acbatch.runner.download import DownloadError, download_audio

        for attempt in range(1, DOWNLOAD_RETRIES + 1):
            try:
                return download_audio(
                    url,
                    destination,
                    max_bytes=self.options.download_max_bytes,
                    timeout=self.options.timeouts,
                    deadline_seconds=self.options.download_seconds,
                    api_base_url=self.api_base_url,
                )
            except DownloadError as exc:
                if exc.retryable and attempt < DOWNLOAD_RETRIES and not self.stop.is_set():
                    self.stop.wait(self.backoff.delay(attempt))
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, episode: Episode, state: EpisodeState) -> None:
        """The audio from the task's file_url, else from the published site; free either way."""
        from acbatch.runner.download import DownloadError

        url = (state.audio.result or {}).get("file_url")
        assert isinstance(url, str)  # decided
        destination = original_audio_path(self.project, episode)
        failures: list[tuple[str, DownloadError]] = []
        audio = None
        sources = (
            self.locate_audio(url),
            published_audio_url(self.project, episode),
            published_download_url(self.project, state),
        )
        for source in dict.fromkeys(source for source in sources if source is not None):
            try:
                audio = self._fetch(source, destination)
                break
            except DownloadError as exc:
                failures.append((source, exc))
        if audio is None:
            tried = "; ".join(f"{source}: {exc}" for source, exc in failures)
            if all(not exc.retryable for _source, exc in failures):
                state.fail(
                    Phase.AUDIO_LOST,
                    "audio",
                    "audio_lost",
                    f"the audio could not be fetched from the service or the published site "
                    f"({tried}); `acbatch retry {episode.id}` pays for a new audio task",
                )
                self._save(state)
                raise _Stop(Outcome.AUDIO_LOST, (state.error or {}).get("message", ""))
            self._keep(state, "download", f"download failed ({tried}); the next run tries again")
            raise _Stop(Outcome.FAILED, (state.error or {}).get("message", ""))
        root = self.project.config.paths.root
        state.download = Download(
            path=_relative(audio.path, root),
            bytes=audio.bytes,
            sha256=audio.sha256,
            duration=round(audio.duration, 3),
            url=url,
            downloaded_at=now_iso(),
        )
        failpoint("after_download")
        credits = codes.credits_for_seconds(audio.duration)
        before = state.credits_charged
        state.charge(state.audio.global_id or url, credits, audio.duration)
        self._slot.charged = getattr(self._slot, "charged", 0) + state.credits_charged - before
        state.first_published = state.first_published or now_iso()
        state.move(Phase.DOWNLOADED, f"{audio.bytes} bytes, {audio.duration:.1f} s")
        self._save(state)
