"""The runner: moves every episode through both paid steps and the download.

Each episode is driven by one worker as an explicit state machine (acbatch.runner.state), and
every transition is written to disk before the next action. Paid creates follow one rule: the
intent is saved before the request leaves, the task id is saved before anything else happens,
and a create whose outcome is unknown is never resent without the user's word.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acbatch import codes
from acbatch.runner import bodies
from acbatch.runner.failpoints import failpoint
from acbatch.runner.limits import AdaptiveLimit, Backoff, CreditBudget, RateGate
from acbatch.runner.polling import LatencyModel, latency_models
from acbatch.runner.state import (
    DONE_PHASES,
    Download,
    EpisodeState,
    Phase,
    StateStore,
    StepRecord,
    now_iso,
)
from acbatch.spec.model import Episode, Project
from acbatch.store import StoreError
from acbatch.voices import VoiceCatalog

if TYPE_CHECKING:
    # The API client (requests), the downloader and the review gate (jsonschema) are imported
    # where they are used, so a run with nothing left to do does not pay for loading them.
    from acbatch.api import errors as api_errors
    from acbatch.api.client import PodcastClient, Task

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
    BUDGET = "over_budget"
    NO_CREDITS = "insufficient_credits"
    ABORTED = "aborted"
    SKIPPED = "skipped"


PROBLEM_OUTCOMES = frozenset(
    {Outcome.FAILED, Outcome.UNCERTAIN, Outcome.TIMED_OUT, Outcome.ABORTED}
)
BUDGET_OUTCOMES = frozenset({Outcome.BUDGET, Outcome.NO_CREDITS})


@dataclass
class EpisodeResult:
    id: str
    outcome: Outcome
    phase: str
    message: str = ""
    credits: int = 0

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
    aborted: str | None = None
    concurrency_refusals: int = 0
    rate_refusals: int = 0
    elapsed: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def exit_code(self) -> int:
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
            "aborted": self.aborted,
            "concurrency_refusals": self.concurrency_refusals,
            "rate_refusals": self.rate_refusals,
            "elapsed_seconds": round(self.elapsed, 3),
            "exit_code": self.exit_code,
        }


@dataclass
class RunOptions:
    jobs: int = 4
    max_credits: int | None = None
    retry_uncertain: frozenset[str] = frozenset()
    retries: int = 8
    poll_initial: float = 2.0
    poll_max_interval: float = 30.0
    deadline: float = 3600.0
    download_max_bytes: int = 500 * 1024 * 1024
    timeouts: tuple[float, float] = (10.0, 60.0)
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


def audio_path(project: Project, episode_id: str) -> Path:
    return project.config.paths.output / "episodes" / episode_id / f"{episode_id}.mp3"


def approved_script(episode: Episode) -> dict[str, Any] | None:
    """review.approved_script, without importing the review gate for episodes it skips."""
    if episode.review != "required":
        return None
    from acbatch.runner import review

    return review.approved_script(episode)


def is_review_error(exc: BaseException) -> bool:
    """Whether `exc` is the review gate's ReviewError (its module loaded only once used)."""
    review = sys.modules.get("acbatch.runner.review")
    return review is not None and isinstance(exc, review.ReviewError)


def seconds_since(iso: str | None) -> float:
    if not iso:
        return 0.0
    try:
        moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
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
        catalog: VoiceCatalog | None = None,
        report: Reporter | None = None,
    ) -> None:
        self.project = project
        self.store = store
        self._client_source = client
        # A factory is called when the first episode needs the API; a client is used as is.
        self._client: PodcastClient | None = None if client is None or callable(client) else client
        self._client_lock = threading.Lock()
        self.options = options
        self.catalog = catalog
        self.report: Reporter = report or (lambda _id, _event, _message: None)
        self.limit = AdaptiveLimit(options.jobs)
        self.backoff = Backoff(seed=options.seed)
        self.rate_gate = RateGate(self.backoff)
        self.budget = CreditBudget(options.max_credits)
        self.latency: dict[str, LatencyModel] = latency_models_for(options)
        self.stop = threading.Event()
        self._slot = threading.local()
        self.out_of_credits = False
        self.aborted: str | None = None

    # -- the client is made only when an episode needs the API -------------------------------

    @property
    def client(self) -> PodcastClient:
        with self._client_lock:
            if self._client is None:
                made = self._client_source() if callable(self._client_source) else None
                if made is None:
                    # No factory, or one that found no API key.
                    raise _Stop(
                        Outcome.ABORTED,
                        "no API key: set AUDIOCLEANER_API_KEY, or run with --sandbox",
                    )
                self._client = made
            return self._client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent if self._client is not None else 0

    # -- the run -------------------------------------------------------------------------------

    def run(self, episodes: Sequence[Episode]) -> RunSummary:
        started = time.monotonic()
        summary = RunSummary()
        # Episodes with nothing left to do are settled here: checking one costs less than
        # handing it to a worker thread. The rest go to the workers, as they always have.
        saved = self.store.saved_names()
        settled = [self._settled(episode, saved) for episode in episodes]
        pending = [episode for episode, done in zip(episodes, settled, strict=True) if done is None]
        driven: list[EpisodeResult] = []
        if pending:
            jobs = max(1, self.options.jobs)
            with ThreadPoolExecutor(jobs, thread_name_prefix="episode") as pool:
                driven = list(pool.map(self._drive_safely, pending))
        rest = iter(driven)
        summary.results = [done if done is not None else next(rest) for done in settled]
        summary.requests = self.requests_sent
        summary.aborted = self.aborted
        summary.concurrency_refusals = self.limit.refusals
        summary.rate_refusals = self.rate_gate.refusals
        summary.elapsed = time.monotonic() - started
        return summary

    def _settled(self, episode: Episode, saved: set[str] | None) -> EpisodeResult | None:
        """The result of a finished episode still in line with its spec; else None.

        For such an episode reconcile() changes nothing and _drive() returns DONE at once; this
        reaches the same result without them. Anything else, or any doubt, is left to a worker.
        """
        if not self.store.has_saved(episode.id, saved):
            return None
        try:
            state = self.store.load(episode.id)
            if state is None or not self._finished_as_is(episode, state):
                return None
        except Exception:  # the worker meets it again and reports it
            return None
        self.report(episode.id, Outcome.DONE.value, "")
        return EpisodeResult(episode.id, Outcome.DONE, state.phase.value, "", state.credits_charged)

    def _finished_as_is(self, episode: Episode, state: EpisodeState) -> bool:
        """Done, with the fingerprints reconcile() checks unchanged and the audio on disk."""
        if state.phase not in DONE_PHASES:
            return False
        wanted_script = bodies.script_fingerprint(episode)
        if state.script.fingerprint not in ("", wanted_script):
            return False
        wanted_audio = bodies.audio_fingerprint(
            episode, approved_script(episode), script=wanted_script
        )
        if state.audio.fingerprint not in ("", wanted_audio):
            return False
        download = state.download
        return download is not None and (self.project.config.paths.root / download.path).is_file()

    def _drive_safely(self, episode: Episode) -> EpisodeResult:
        self._slot.held = False
        self._slot.created = None
        try:
            state = self.store.load(episode.id) or self._new_state(episode)
        except StoreError as exc:
            return EpisodeResult(episode.id, Outcome.FAILED, "unknown", str(exc))
        try:
            outcome, message = self._drive(episode, state)
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
        self.report(episode.id, outcome.value, message)
        return EpisodeResult(episode.id, outcome, state.phase.value, message, state.credits_charged)

    def _new_state(self, episode: Episode) -> EpisodeState:
        base_url = self.project.config.show.base_url
        return EpisodeState(id=episode.id, guid=episode_guid(base_url, episode.id))

    def _save(self, state: EpisodeState) -> None:
        self.store.save(state)
        self.report(state.id, state.phase.value, (state.error or {}).get("message", ""))

    # -- deciding where an episode stands --------------------------------------------------------

    def reconcile(self, episode: Episode, state: EpisodeState) -> None:
        """Bring a loaded state in line with the spec and the user's instructions."""
        if state.phase in (Phase.SCRIPT_SENDING, Phase.AUDIO_SENDING):
            step = "script" if state.phase == Phase.SCRIPT_SENDING else "audio"
            state.fail(
                Phase.UNCERTAIN,
                step,
                "uncertain",
                f"acbatch stopped while the {step} create was being sent, so its task id was "
                "never saved; it may have been created (and billed). Check your account, then "
                f"run `acbatch run --retry-uncertain {episode.id}` to send it again",
            )
            self._save(state)

        wanted_script = bodies.script_fingerprint(episode)
        review_script = approved_script(episode)
        wanted_audio = bodies.audio_fingerprint(episode, review_script, script=wanted_script)
        recorded = state.script.fingerprint
        if state.phase != Phase.NEW and recorded and recorded != wanted_script:
            state.script, state.audio, state.download = StepRecord(), StepRecord(), None
            state.move(Phase.NEW, "source, style, duration, language or speakers changed")
            self._save(state)
        elif state.phase in DONE_PHASES | {
            Phase.AUDIO_REQUESTED,
            Phase.AUDIO_READY,
        } and state.audio.fingerprint not in ("", wanted_audio):
            state.audio, state.download = StepRecord(), None
            state.move(Phase.SCRIPT_READY, "overrides or the reviewed script changed")
            self._save(state)
        elif state.phase in (Phase.FAILED, Phase.TIMED_OUT, Phase.UNCERTAIN) and (
            state.failed_step == "audio" and state.audio.fingerprint not in ("", wanted_audio)
        ):
            state.audio = StepRecord()
            state.move(Phase.SCRIPT_READY, "overrides or the reviewed script changed")
            self._save(state)

        if state.phase == Phase.UNCERTAIN and episode.id in self.options.retry_uncertain:
            restart = Phase.NEW if state.failed_step == "script" else Phase.SCRIPT_READY
            state.move(restart, "resent on the user's word (--retry-uncertain)")
            self._save(state)
        elif state.phase == Phase.FAILED:
            restart = {"script": Phase.NEW, "audio": Phase.SCRIPT_READY}.get(
                state.failed_step or "", Phase.AUDIO_READY
            )
            state.move(restart, f"retrying after: {(state.error or {}).get('message', '')}")
            self._save(state)
        elif state.phase == Phase.TIMED_OUT:
            resume = (
                Phase.SCRIPT_REQUESTED if state.failed_step == "script" else (Phase.AUDIO_REQUESTED)
            )
            state.move(resume, "resuming the poll of a timed-out task")
            state.error = None
            self._save(state)

        if state.phase in DONE_PHASES:
            download = state.download
            if download is None or not (self.project.config.paths.root / download.path).is_file():
                state.move(Phase.AUDIO_READY, "the audio file is missing: fetching it again")
                self._save(state)

    # -- the state machine -----------------------------------------------------------------------

    def _drive(self, episode: Episode, state: EpisodeState) -> tuple[Outcome, str]:
        self.reconcile(episode, state)
        while True:
            if self.aborted:
                raise _Stop(Outcome.ABORTED, self.aborted)
            phase = state.phase
            if phase == Phase.NEW:
                self._create_script(episode, state)
            elif phase == Phase.SCRIPT_REQUESTED:
                self._poll(episode, state, "script")
            elif phase == Phase.SCRIPT_READY:
                if episode.review == "required" and approved_script(episode) is None:
                    from acbatch.runner import review

                    review.write_review_file(episode, state)
                    state.move(Phase.AWAITING_REVIEW, f"review {episode.script_review_path.name}")
                    self._save(state)
                    continue
                self._create_audio(episode, state)
            elif phase == Phase.AWAITING_REVIEW:
                if approved_script(episode) is None:
                    return Outcome.REVIEW, (
                        f"waiting for review: edit {episode.script_review_path.name}, then "
                        f"`acbatch approve {episode.id}`"
                    )
                self._create_audio(episode, state)
            elif phase == Phase.AUDIO_REQUESTED:
                self._poll(episode, state, "audio")
            elif phase == Phase.AUDIO_READY:
                self._download(episode, state)
            elif phase in DONE_PHASES:
                return Outcome.DONE, ""
            elif phase == Phase.FAILED:
                return Outcome.FAILED, (state.error or {}).get("message", "failed")
            elif phase == Phase.UNCERTAIN:
                return Outcome.UNCERTAIN, (state.error or {}).get("message", "uncertain")
            elif phase == Phase.TIMED_OUT:
                return Outcome.TIMED_OUT, (state.error or {}).get("message", "timed out")
            else:  # pragma: no cover - every phase is handled above
                raise RuntimeError(f"unhandled phase {phase}")

    # -- creates -----------------------------------------------------------------------------------

    def _estimate(self, episode: Episode) -> int:
        return codes.credit_range(episode.duration)[1]

    def _create_script(self, episode: Episode, state: EpisodeState) -> None:
        from acbatch.sources import SourceError

        try:
            body = bodies.script_request(episode)
        except SourceError as exc:
            raise _Stop(Outcome.FAILED, f"{episode.source.value}: {exc}") from None
        if not self.budget.reserve(self._estimate(episode)):
            raise _Stop(Outcome.BUDGET, "skipped: the credit budget (--max-credits) is used up")
        state.credits_estimated = self._estimate(episode)
        record = StepRecord(
            fingerprint=bodies.script_fingerprint(episode),
            request_fingerprint=bodies.digest(body),
            service=self.client.base_url,
        )
        state.script = record
        self._send_create(
            state, "script", record, lambda: self.client.create_script(body), Phase.NEW
        )

    def _create_audio(self, episode: Episode, state: EpisodeState) -> None:
        script = state.script
        if script.result is None or script.global_id is None:
            state.script = StepRecord()
            state.move(Phase.NEW, "the stored script is missing: requesting it again")
            self._save(state)
            return
        review_script = approved_script(episode)
        body = bodies.audio_request(
            episode,
            script.result,
            script.global_id,
            catalog=self.catalog,
            review_script=review_script,
        )
        if state.credits_estimated == 0 and not self.budget.reserve(self._estimate(episode)):
            raise _Stop(Outcome.BUDGET, "skipped: the credit budget (--max-credits) is used up")
        state.credits_estimated = self._estimate(episode)
        record = StepRecord(
            fingerprint=bodies.audio_fingerprint(episode, review_script),
            request_fingerprint=bodies.digest(body),
            service=self.client.base_url,
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
        from acbatch.api import errors as api_errors

        sending = Phase.SCRIPT_SENDING if step == "script" else Phase.AUDIO_SENDING
        requested = Phase.SCRIPT_REQUESTED if step == "script" else Phase.AUDIO_REQUESTED
        attempt = 0
        while True:
            if self.out_of_credits:
                raise _Stop(Outcome.NO_CREDITS, "not sent: the account is out of credits (100100)")
            if self.aborted:
                raise _Stop(Outcome.ABORTED, self.aborted)
            if not self.limit.acquire(self.stop):
                raise _Stop(Outcome.ABORTED, self.aborted or "stopped")
            self.rate_gate.wait(self.stop)
            attempt += 1
            record.attempts += 1
            record.sent_at = now_iso()
            state.move(sending, f"sending the {step} create (attempt {attempt})")
            self._save(state)
            failpoint("before_create")
            try:
                global_id = send()
            except api_errors.ApiError as exc:
                self.limit.release(finished=False)
                if exc.processed is not False:
                    state.fail(
                        Phase.UNCERTAIN,
                        step,
                        "uncertain",
                        f"the {step} create's outcome is unknown ({exc}); it may have been "
                        "created (and billed), so acbatch will not resend it. Check your "
                        f"account, then run `acbatch run --retry-uncertain {state.id}`",
                    )
                    self._save(state)
                    raise _Stop(Outcome.UNCERTAIN, state.error["message"]) from None
                state.move(before, f"not sent: {exc}")
                self._save(state)
                self._after_refusal(exc, state, step, attempt)
                continue
            failpoint("after_create")
            self.rate_gate.passed()
            self._slot.held = True
            self._slot.created = time.monotonic()
            record.global_id = global_id
            record.requested_at = now_iso()
            state.move(requested, f"{step} task {global_id}")
            self._save(state)
            return

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
        state.fail(Phase.FAILED, step, type(exc).__name__, f"the {step} create failed: {exc}")
        self._save(state)
        raise _Stop(Outcome.FAILED, state.error["message"] if state.error else str(exc))

    def _abort(self, reason: str) -> None:
        self.aborted = self.aborted or reason
        self.stop.set()
        raise _Stop(Outcome.ABORTED, reason)

    # -- polls -------------------------------------------------------------------------------------

    def _poll(self, episode: Episode, state: EpisodeState, step: str) -> None:
        from acbatch.api import errors as api_errors

        record = state.script if step == "script" else state.audio
        ready = Phase.SCRIPT_READY if step == "script" else Phase.AUDIO_READY
        assert record.global_id is not None
        if record.service and record.service != self.client.base_url:
            raise _Stop(
                Outcome.FAILED,
                f"the {step} task {record.global_id} lives on {record.service}, but this run "
                f"talks to {self.client.base_url}",
            )
        model = self.latency[step]
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
        delay = model.first_delay(time.monotonic() - created)
        last_waiting: float | None = None
        errors_in_a_row = 0
        try:
            while True:
                if self.stop.wait(delay):
                    raise _Stop(Outcome.ABORTED, self.aborted or "stopped")
                self.rate_gate.wait(self.stop)
                try:
                    task = get(record.global_id)
                except api_errors.TaskNotFound:
                    state.fail(
                        Phase.FAILED,
                        step,
                        "task_not_found",
                        f"the service does not know {step} task {record.global_id} (101008); "
                        "the next run will request it again",
                        codes.TASK_NOT_FOUND,
                    )
                    self._save(state)
                    raise _Stop(Outcome.FAILED, state.error["message"]) from None
                except (api_errors.InvalidApiKey, api_errors.AccountSuspended) as exc:
                    self._abort(f"{exc}: fix the API key or the account, then run again")
                except api_errors.ApiError as exc:
                    if isinstance(exc, api_errors.RateLimited):
                        self.rate_gate.limited()
                    errors_in_a_row += 1
                    transient = exc.retryable or isinstance(exc, api_errors.TransportError)
                    if not transient and errors_in_a_row > NONTRANSIENT_POLL_RETRIES:
                        state.fail(
                            Phase.FAILED,
                            step,
                            type(exc).__name__,
                            f"the {step} task {record.global_id} could not be read: {exc}",
                        )
                        self._save(state)
                        raise _Stop(Outcome.FAILED, state.error["message"]) from None
                    delay = self.backoff.delay(min(errors_in_a_row, 8))
                    if time.monotonic() - created > self.options.deadline:
                        self._time_out(state, step, record, f"last error: {exc}")
                    continue
                errors_in_a_row = 0
                self.rate_gate.passed()
                record.polls += 1
                elapsed = time.monotonic() - created
                if task.waiting:
                    last_waiting = elapsed
                    if elapsed > self.options.deadline:
                        self._time_out(state, step, record, "still waiting")
                    delay = model.next_delay(elapsed)
                    continue
                if task.failed:
                    state.fail(
                        Phase.FAILED,
                        step,
                        "task_failed",
                        f"the {step} task failed: {task.failure_reason}",
                    )
                    self._save(state)
                    raise _Stop(Outcome.FAILED, state.error["message"])
                failpoint("after_poll")
                model.observe(elapsed, last_waiting)
                record.result = self._keep(task, step)
                record.completed_at = now_iso()
                state.move(ready, f"{step} task done after {record.polls} polls")
                self._save(state)
                return
        finally:
            self._slot.held = False
            self.limit.release(finished=True)

    def _time_out(self, state: EpisodeState, step: str, record: StepRecord, detail: str) -> None:
        state.fail(
            Phase.TIMED_OUT,
            step,
            "timed_out",
            f"the {step} task {record.global_id} passed the {self.options.deadline:g}s deadline "
            f"({detail}); the next run resumes polling it",
        )
        self._save(state)
        raise _Stop(Outcome.TIMED_OUT, state.error["message"] if state.error else "timed out")

    @staticmethod
    def _keep(task: Task, step: str) -> dict[str, Any]:
        wanted = SCRIPT_RESULT_FIELDS if step == "script" else AUDIO_RESULT_FIELDS
        return {name: task.data[name] for name in wanted if name in task.data}

    # -- download ----------------------------------------------------------------------------------

    def _download(self, episode: Episode, state: EpisodeState) -> None:
        from acbatch.runner.download import DownloadError, download_audio

        result = state.audio.result or {}
        url = result.get("file_url")
        if not isinstance(url, str):
            state.audio = StepRecord()
            state.move(Phase.SCRIPT_READY, "no audio URL stored: requesting the audio again")
            self._save(state)
            return
        destination = audio_path(self.project, episode.id)
        for attempt in range(1, DOWNLOAD_RETRIES + 1):
            try:
                audio = download_audio(
                    url,
                    destination,
                    max_bytes=self.options.download_max_bytes,
                    timeout=self.options.timeouts,
                )
                break
            except DownloadError as exc:
                if exc.retryable and attempt < DOWNLOAD_RETRIES:
                    self.stop.wait(self.backoff.delay(attempt))
                    continue
                state.fail(Phase.FAILED, "download", "download", f"download failed: {exc}")
                self._save(state)
                raise _Stop(Outcome.FAILED, state.error["message"] if state.error else "") from None
        root = self.project.config.paths.root
        state.download = Download(
            path=str(audio.path.relative_to(root))
            if audio.path.is_relative_to(root)
            else str(audio.path),
            bytes=audio.bytes,
            sha256=audio.sha256,
            duration=round(audio.duration, 3),
            url=url,
            downloaded_at=now_iso(),
        )
        failpoint("after_download")
        state.credits_charged = codes.credits_for_seconds(audio.duration)
        state.first_published = state.first_published or now_iso()
        state.move(Phase.DOWNLOADED, f"{audio.bytes} bytes, {audio.duration:.1f} s")
        self._save(state)


def latency_models_for(options: RunOptions) -> dict[str, LatencyModel]:
    from acbatch.spec.model import Polling

    return latency_models(
        Polling(initial=options.poll_initial, max_interval=options.poll_max_interval)
    )
