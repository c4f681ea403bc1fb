"""One `acbatch run`, start to finish: choose episodes, lock, connect, drive, render."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acbatch.errors import UserError
from acbatch.project.model import Episode, Paths, Project
from acbatch.runner.ahead import RenderAhead
from acbatch.runner.decide import Word
from acbatch.runner.engine import CANCEL_EXIT_CODES, Reporter, Runner, RunOptions, RunSummary
from acbatch.runner.ledger import budget_left
from acbatch.runner.plan import SANDBOX_SERVICE
from acbatch.runner.state import StateStore
from acbatch.statesync import open_state_backend, state_store
from acbatch.store import ProjectLock
from acbatch.voices import CatalogError, VoiceCatalog
from acbatch.wording import plural

if TYPE_CHECKING:
    from acbatch.api.client import PodcastClient

SANDBOX_KEY = "sandbox-demo-key"
LOCK_NAME = ".acbatch.lock"


@dataclass
class RunRequest:
    ids: tuple[str, ...] = ()
    jobs: int | None = None
    max_credits: int | None = None
    sandbox: bool = False
    sandbox_settings: Any = None
    """A SandboxSettings for the in-process sandbox (defaults when None)."""
    base_url: str | None = None
    retry_uncertain: frozenset[str] = frozenset()
    words: dict[str, Word] = field(default_factory=dict)
    """The user's word per episode (retry, redo, adopt); --retry-uncertain is merged in."""
    render: bool = True
    seed: int | None = None
    shard: tuple[int, int] | None = None
    """K/N: only the episodes whose id hashes to shard K of N."""
    deadline: float | None = None
    poll_initial: float | None = None
    sandbox_port: int | None = None
    """The in-process sandbox's port (None: the settings' port, else any free one)."""
    handle_signals: bool = True
    """Cancel on SIGINT/SIGTERM (only from the main thread)."""


@dataclass
class RunResult:
    summary: RunSummary
    episodes: list[Episode]
    drafts: list[str] = field(default_factory=list)
    rendered: Any = None
    state_dir: Path | None = None
    render_error: str | None = None

    @property
    def exit_code(self) -> int:
        code = self.summary.exit_code
        return 1 if self.render_error and code == 0 else code


SANDBOX_WORKSPACE = "sandbox"
"""Sandbox runs keep their state and output here, apart from the live ones."""
SANDBOX_SERVER_FOLDER = "server"
"""Inside the sandbox workspace: the sandbox's own tasks and audio, kept across restarts."""


def workspace(project: Project, sandbox: bool) -> Project:
    """The project as one mode sees it: live (the configured paths) or the sandbox's own
    `sandbox/state`, `sandbox/output` and `sandbox/reviews` (review files), so demo task ids
    and files never meet live ones."""
    if not sandbox:
        return project
    reviews = project.config.paths.root / SANDBOX_WORKSPACE / "reviews"
    return replace(
        project,
        config=replace(project.config, paths=workspace_paths(project.config.paths, sandbox)),
        episodes=[replace(e, review_folder=reviews) for e in project.episodes],
    )


def workspace_paths(paths: Paths, sandbox: bool) -> Paths:
    """The state and output folders of one mode (see workspace)."""
    if not sandbox:
        return paths
    root = paths.root / SANDBOX_WORKSPACE
    return replace(paths, state=root / "state", output=root / "output")


def state_folder(project: Project, sandbox: bool) -> Path:
    return workspace(project, sandbox).config.paths.state


def has_saved_state(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.suffix == ".json" and not p.name.startswith(".") for p in folder.iterdir()
    )


def live_state_hint(project: Project, sandbox: bool) -> str | None:
    """For a live command on a project that has only sandbox runs: say so, and name the flag."""
    if sandbox or has_saved_state(state_folder(project, False)):
        return None
    if has_saved_state(state_folder(project, True)):
        return (
            "no live state yet: this project has only sandbox runs "
            f"(in {SANDBOX_WORKSPACE}/); add --sandbox to use them"
        )
    return None


def service_for(project: Project, request: RunRequest) -> str:
    """Where the run's tasks live: the sandbox, or the API base URL (no key or network needed)."""
    if request.sandbox:
        return SANDBOX_SERVICE
    from acbatch.api.settings import resolve_api_settings

    settings = resolve_api_settings(
        option_base_url=request.base_url, config_base_url=project.config.api.base_url
    )
    return settings.base_url.rstrip("/")


def resolve_ids(project: Project, selectors: Iterable[str]) -> list[str]:
    """The episode ids the user's selectors name (`tide-pools` names every language of a
    language matrix; see Project.resolve_ids); a usage error naming those that name none."""
    ids, missing = project.resolve_ids(selectors)
    if missing:
        raise UserError(f"no episode with id {', '.join(repr(m) for m in missing)}", 2)
    return ids


def user_words(request: RunRequest, project: Project) -> dict[str, Word]:
    """The user's word per episode id, selectors expanded (`retry tide-pools` retries each
    of its languages)."""
    words: dict[str, Word] = {}
    for selector, word in request.words.items():
        for episode_id in resolve_ids(project, (selector,)):
            words[episode_id] = word
    for episode_id in resolve_ids(project, request.retry_uncertain):
        words[episode_id] = replace(words.get(episode_id, Word()), retry_uncertain=True)
    return words


def parse_shard(value: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N) -> (K, N)."""
    head, sep, tail = value.partition("/")
    if not sep or not head.strip().isdigit() or not tail.strip().isdigit():
        raise ValueError(f"expected K/N, like 1/4; got {value!r}")
    index, count = int(head), int(tail)
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: K must be between 1 and N")
    return index, count


def in_shard(episode_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable across machines and Python versions: sha256 of the id, modulo N."""
    if shard is None:
        return True
    index, count = shard
    bucket = int.from_bytes(hashlib.sha256(episode_id.encode("utf-8")).digest()[:8], "big")
    return bucket % count == index - 1


def select_episodes(
    project: Project, ids: tuple[str, ...], shard: tuple[int, int] | None = None
) -> tuple[list[Episode], list[str]]:
    if ids:
        known = {e.id: e for e in project.episodes}
        chosen = [known[i] for i in resolve_ids(project, ids)]
    else:
        chosen = list(project.episodes)
    chosen = [e for e in chosen if in_shard(e.id, shard)]
    drafts = [e.id for e in chosen if e.draft]
    return [e for e in chosen if not e.draft], drafts


def load_catalog(project: Project) -> VoiceCatalog | None:
    path = project.config.paths.voices
    if not path.exists():
        return None
    try:
        return VoiceCatalog.load(path)
    except CatalogError:
        return None


@dataclass
class Service:
    """How a run reaches the API: a client factory, and where downloads of its audio go."""

    factory: Callable[[], PodcastClient | None]
    base_url: str
    """The API's address: downloads may come from its kind of address (loopback for the
    sandbox), never from other private or link-local ones."""
    locate_audio: Callable[[str], str] | None = None
    """Maps a stored file_url to where it is served now (a restarted sandbox's new port)."""


@contextlib.contextmanager
def _service(project: Project, request: RunRequest) -> Iterator[Service]:
    """A client factory for the real service or an in-process sandbox.

    The API settings are read, and the client (which imports requests) made, only when the
    first episode needs the API: a run with nothing left to do never loads them. The real
    service's factory returns None when there is no API key. The sandbox keeps its tasks in
    the sandbox workspace, so a killed sandbox run resumes on the next one, on any port, and
    voices the show's own catalog.
    """
    api = project.config.api
    timeouts = (api.timeouts.connect, api.timeouts.read)
    if request.sandbox:
        from acbatch.api.client import PodcastClient
        from acbatch.sandbox.backend import SandboxSettings, rebase_file_url
        from acbatch.sandbox.server import BANNER, SandboxServer

        settings = request.sandbox_settings or SandboxSettings()
        settings = replace(
            settings,
            state_dir=settings.state_dir
            or project.config.paths.root / SANDBOX_WORKSPACE / SANDBOX_SERVER_FOLDER,
            catalog=settings.catalog or load_catalog(project),
        )
        with SandboxServer(settings, port=request.sandbox_port) as sandbox:
            sys.stderr.write(f"{BANNER}\nacbatch sandbox listening on {sandbox.url}\n")
            yield Service(
                lambda: PodcastClient(
                    SANDBOX_KEY,
                    sandbox.url,
                    connect_timeout=timeouts[0],
                    read_timeout=timeouts[1],
                    max_answer_bytes=api.max_answer_bytes,
                    max_field_chars=api.max_field_chars,
                ),
                sandbox.url,
                lambda url: rebase_file_url(url, sandbox.url),
            )
        return

    def factory() -> PodcastClient | None:
        from acbatch.api.client import PodcastClient
        from acbatch.api.settings import resolve_api_settings

        settings = resolve_api_settings(
            option_base_url=request.base_url, config_base_url=api.base_url
        )
        if settings.key is None:
            return None
        return PodcastClient(
            settings.key,
            settings.base_url,
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
            max_answer_bytes=api.max_answer_bytes,
            max_field_chars=api.max_field_chars,
        )

    yield Service(factory, service_for(project, request))


def refuse_sandbox_voices(project: Project, episodes: list[Episode]) -> None:
    """Nothing sandbox-only reaches the real host: refused before any request."""
    from acbatch.voices import live_catalog_problems

    errors = [p for p in live_catalog_problems(project, episodes) if p.severity == "error"]
    if errors:
        raise UserError(
            "this run would send the sandbox's demo voices to the real service:\n  "
            + "\n  ".join(str(p) for p in errors),
            1,
        )


def run_budget(project: Project, store: StateStore, max_credits: int | None) -> int | None:
    api = project.config.api
    return budget_left(
        store,
        max_credits=max_credits if max_credits is not None else api.max_credits,
        monthly=api.budget_monthly,
        total=api.budget_total,
    )


def run_project(project: Project, request: RunRequest, report: Reporter | None = None) -> RunResult:
    project = workspace(project, request.sandbox)
    episodes, drafts = select_episodes(project, request.ids, request.shard)
    if not request.sandbox:
        refuse_sandbox_voices(project, episodes)
    api = project.config.api
    folder = project.config.paths.state
    options = RunOptions(
        jobs=request.jobs or api.jobs,
        words=user_words(request, project),
        max_attempts=api.max_attempts,
        retries=api.retries,
        poll_initial=request.poll_initial
        if request.poll_initial is not None
        else (0.3 if request.sandbox else api.polling.initial),
        poll_max_interval=api.polling.max_interval,
        deadline=request.deadline if request.deadline is not None else api.polling.deadline,
        download_max_bytes=api.download_max_bytes,
        download_seconds=api.timeouts.download,
        timeouts=(api.timeouts.connect, api.timeouts.read),
        seed=request.seed,
    )
    with (
        ProjectLock(project.config.paths.root / LOCK_NAME) as lock,
        # Takes the lock across machines, fetches newer state, and pushes saves during the run.
        open_state_backend(
            project, folder, sandbox=request.sandbox, shard=request.shard
        ) as backend,
        _service(project, request) as service,
    ):
        store = state_store(folder, backend)
        # The budget is read from the ledger as the backend left it (newer state fetched).
        options.budget_left = run_budget(project, store, request.max_credits)
        store.sweep_temporary()
        sweep_partial_downloads(project.config.paths.output)
        catalog = load_catalog(project)
        renders = request.render and request.shard is None and not project.output_languages
        ahead = RenderAhead(project) if renders else None
        runner = Runner(
            project,
            store,
            service.factory,
            options,
            service=service_for(project, request),
            catalog=catalog,
            report=report,
            locate_audio=service.locate_audio,
            api_base_url=service.base_url,
            lock_held=lambda: lock.still_held() and backend.still_held(),
            finished=ahead.submit if ahead is not None else None,
        )
        try:
            with cancel_on_signals(runner, enabled=request.handle_signals):
                summary = runner.run(episodes)
        finally:
            if ahead is not None:
                ahead.finish(cancel=runner.cancelled is not None or runner.aborted is not None)
        result = RunResult(summary, episodes, drafts, None, folder)
        # A shard renders nothing: the feed needs every shard's episodes, and other shards' state
        # files must stay untouched so that the shards' commits never conflict.
        if (
            request.render
            and request.shard is None
            and not summary.aborted
            and not summary.cancelled
        ):
            from acbatch.publish.errors import PublishError
            from acbatch.runner.published import render_project

            try:
                result.rendered = render_project(project, store)
            except PublishError as exc:
                result.render_error = str(exc)
    return result


@contextlib.contextmanager
def cancel_on_signals(runner: Runner, *, enabled: bool = True) -> Iterator[None]:
    """The first SIGINT or SIGTERM cancels the run (no new create leaves, state is saved, the
    run returns within a couple of seconds); a second one exits at once."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(number: int, _frame: object) -> None:
        name = signal.Signals(number).name
        if runner.cancelled is not None:
            sys.stderr.write(f"acbatch: {name} again: exiting now; state is saved\n")
            sys.stderr.flush()
            os._exit(CANCEL_EXIT_CODES.get(name, 130))
        runner.cancel(name)
        on_wire = runner.creates_on_wire()
        detail = (
            f"; waiting for {plural(on_wire, 'create')} already sent, to save their task ids"
            if (on_wire)
            else ""
        )
        sys.stderr.write(
            f"acbatch: {name}: stopping; no new create will be sent{detail}. Tasks in flight "
            "are saved and the next run resumes them (press again to exit at once)\n"
        )
        sys.stderr.flush()

    previous = {
        number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def sweep_partial_downloads(output: Path) -> None:
    """Partial downloads of a killed run never reach a final name; clear them away."""
    # output/episodes/<id>/, and output/<code>/episodes/<id>/ in a show published per language.
    for pattern in ("episodes/*/.*.part", "*/episodes/*/.*.part"):
        for leftover in output.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()
