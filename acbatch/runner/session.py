"""One `acbatch run`, start to finish: choose episodes, lock, connect, drive, render."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acbatch.errors import UserError
from acbatch.runner.engine import Reporter, Runner, RunOptions, RunSummary
from acbatch.spec.model import Episode, Project
from acbatch.statesync import open_state_backend, state_store
from acbatch.store import ProjectLock
from acbatch.voices import CatalogError, VoiceCatalog

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
    render: bool = True
    seed: int | None = None
    shard: tuple[int, int] | None = None
    """K/N: only the episodes whose id hashes to shard K of N."""
    deadline: float | None = None
    poll_initial: float | None = None


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


def state_folder(project: Project, sandbox: bool) -> Path:
    """Sandbox runs keep their own state, so demo task ids never meet the real service."""
    folder = project.config.paths.state
    return folder / "sandbox" if sandbox else folder


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
        missing = [i for i in ids if i not in known]
        if missing:
            raise UserError(f"no episode with id {', '.join(repr(m) for m in missing)}", 2)
        chosen = [known[i] for i in dict.fromkeys(ids)]
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


@contextlib.contextmanager
def _service(project: Project, request: RunRequest) -> Iterator[Any]:
    """Yields a client factory for the real service or an in-process sandbox.

    The API settings are read, and the client (which imports requests) made, only when the
    first episode needs the API: a run with nothing left to do never loads them. The real
    service's factory returns None when there is no API key.
    """
    api = project.config.api
    timeouts = (api.timeouts.connect, api.timeouts.read)
    if request.sandbox:
        from acbatch.api.client import PodcastClient
        from acbatch.sandbox.server import BANNER, SandboxServer

        with SandboxServer(request.sandbox_settings) as sandbox:
            import click

            click.echo(f"{BANNER}\nacbatch sandbox listening on {sandbox.url}", err=True)
            yield lambda: PodcastClient(
                SANDBOX_KEY, sandbox.url, connect_timeout=timeouts[0], read_timeout=timeouts[1]
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
            settings.key, settings.base_url, connect_timeout=timeouts[0], read_timeout=timeouts[1]
        )

    yield factory


def run_project(project: Project, request: RunRequest, report: Reporter | None = None) -> RunResult:
    episodes, drafts = select_episodes(project, request.ids, request.shard)
    api = project.config.api
    options = RunOptions(
        jobs=request.jobs or api.jobs,
        max_credits=request.max_credits if request.max_credits is not None else api.max_credits,
        retry_uncertain=request.retry_uncertain,
        retries=api.retries,
        poll_initial=request.poll_initial
        if request.poll_initial is not None
        else (0.3 if request.sandbox else api.polling.initial),
        poll_max_interval=api.polling.max_interval,
        deadline=request.deadline if request.deadline is not None else api.polling.deadline,
        download_max_bytes=api.download_max_bytes,
        timeouts=(api.timeouts.connect, api.timeouts.read),
        seed=request.seed,
    )
    folder = state_folder(project, request.sandbox)
    with (
        ProjectLock(project.config.paths.root / LOCK_NAME),
        # Takes the lock across machines, fetches newer state, and pushes saves during the run.
        open_state_backend(
            project, folder, sandbox=request.sandbox, shard=request.shard
        ) as backend,
        _service(project, request) as factory,
    ):
        store = state_store(folder, backend)
        store.sweep_temporary()
        sweep_partial_downloads(project.config.paths.output)
        catalog = load_catalog(project)
        runner = Runner(project, store, factory, options, catalog=catalog, report=report)
        summary = runner.run(episodes)
        result = RunResult(summary, episodes, drafts, None, folder)
        # A shard renders nothing: the feed needs every shard's episodes, and other shards' state
        # files must stay untouched so that the shards' commits never conflict.
        if request.render and request.shard is None and not summary.aborted:
            from acbatch.publish.errors import PublishError
            from acbatch.runner.publishing import render_project

            try:
                result.rendered = render_project(project, store)
            except PublishError as exc:
                result.render_error = str(exc)
    return result


def sweep_partial_downloads(output: Path) -> None:
    """Partial downloads of a killed run never reach a final name; clear them away."""
    episodes = output / "episodes"
    if episodes.is_dir():
        for leftover in episodes.glob("*/.*.part"):
            with contextlib.suppress(OSError):
                leftover.unlink()
