"""State backends: where episode state is kept durably besides the local state folder.

`local` keeps state in the state folder only. `git` also pushes it to a git remote while the run
goes on: every saved state file (a create intent, a task id, a finished step) is queued, and a
background thread pushes the queue at most once every `push_interval` seconds; the rest is pushed
when the run ends. The backend also holds a lock across machines for the duration of the run.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from acbatch.project.model import Paths, Project
from acbatch.runner.state import StateStore
from acbatch.statesync.git import GitStateError, GitStateRemote, RemoteLock
from acbatch.statesync.settings import StateSettings, read_state_settings


def _note(message: str) -> None:
    print(f"acbatch: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"acbatch: warning: {message}", file=sys.stderr)


class StateBackend(Protocol):
    def saved(self, path: Path) -> None:
        """A state file was saved (called from worker threads)."""

    def still_held(self) -> bool:
        """Whether the backend's lock (if any) is still this run's."""


class LocalBackend:
    """The state folder alone; the project lock keeps runs apart."""

    def saved(self, path: Path) -> None:
        pass

    def still_held(self) -> bool:
        return True


class GitBackend:
    """The state folder, fetched at the start and pushed while the run goes on."""

    def __init__(self, remote: GitStateRemote, shard: tuple[int, int] | None = None) -> None:
        self.remote = remote
        self.lock = RemoteLock(remote, shard)
        self.interval = remote.settings.push_interval
        self._dirty: dict[Path, None] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_push = 0.0
        self._failure: str | None = None

    def start(self) -> None:
        self.lock.acquire(self.remote.settings.lock_wait, note=_note)
        try:
            brought = self.remote.pull()
        except BaseException:
            self.lock.release()
            raise
        if brought:
            _note(f"brought {len(brought)} newer state files from {self.remote.where}")
        self._thread = threading.Thread(target=self._loop, name="acbatch-state-push", daemon=True)
        self._thread.start()

    def saved(self, path: Path) -> None:
        with self._wake:
            self._dirty[path] = None
            self._wake.notify()

    def still_held(self) -> bool:
        return not self.lock.lost

    def _loop(self) -> None:
        renew_every = self.remote.settings.lock_stale_after / 3
        while True:
            with self._wake:
                while not self._dirty and not self._stopping:
                    self._wake.wait(timeout=renew_every)
                    self._renew()
                if self._stopping:
                    return
                # At most one push per interval; saves made meanwhile join this push.
                while not self._stopping:
                    remaining = self._last_push + self.interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(timeout=remaining)
                if self._stopping:
                    return
                batch = list(self._dirty)
                self._dirty.clear()
            self._push_paths(batch)

    def _renew(self) -> None:
        try:
            self.lock.renew_if_due()
        except GitStateError as exc:
            _warn(f"cannot renew the state lock on {self.remote.where}: {exc}")

    def _push_paths(self, paths: list[Path]) -> None:
        self._last_push = time.monotonic()
        files = [tracked for path in paths if (tracked := self.remote.tracked(path)) is not None]
        try:
            self.remote.push(files)
            self._failure = None
            self._renew()
        except GitStateError as exc:
            if self._failure != str(exc):
                _warn(f"{exc}; will try again")
            self._failure = str(exc)
            with self._wake:
                for path in paths:
                    self._dirty.setdefault(path, None)

    def stop(self) -> None:
        """Push everything that is left, then give up the lock."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        try:
            self.remote.push([*self.remote.state_files(), *self.remote.review_files()])
        except GitStateError as exc:
            _warn(
                f"{exc}; the state is safe in {self.remote.state_folder}: "
                "push it with `acbatch state push`"
            )
        finally:
            with contextlib.suppress(GitStateError):
                self.lock.release()


def git_remote(paths: Paths, folder: Path, settings: StateSettings) -> GitStateRemote:
    return GitStateRemote(paths.root, folder, paths.specs, settings.git)


@contextlib.contextmanager
def open_state_backend(
    project: Project,
    folder: Path,
    *,
    sandbox: bool = False,
    shard: tuple[int, int] | None = None,
) -> Iterator[StateBackend]:
    """The project's state backend, started (lock taken, state fetched) for one run.

    Sandbox runs keep their demo state locally whatever the settings say.
    """
    settings = read_state_settings(project.config.paths.config)
    if sandbox or settings.backend == "local":
        yield LocalBackend()
        return
    backend = GitBackend(git_remote(project.config.paths, folder, settings), shard)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


def state_store(folder: Path, backend: StateBackend) -> StateStore:
    """A StateStore that tells the backend about every file it saves."""
    return StateStore(folder, on_save=backend.saved)
