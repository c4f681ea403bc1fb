"""Durable project state: atomic file writes and the runner's lock.

Every write goes to a temporary file in the destination's folder, is fsynced, renamed over the
final name with os.replace and followed by an fsync of the folder, so a crash at any instant leaves
either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from acbatch.constants import TIMESTAMP_FORMAT
from acbatch.errors import LockHeld, UserError


class StoreError(UserError):
    """The state folder cannot be read or written."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe_os_error(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device holding {path}"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {path}: {exc.strerror.lower() if exc.strerror else exc}"
    return f"cannot write {path}: {exc.strerror or exc}"


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write `path` atomically: yields a file object in the same folder, renamed in on success."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StoreError(_describe_os_error(exc, path)) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise StoreError(_describe_os_error(exc, path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, dump_json(data))


class ProjectLock:
    """An exclusive lock on the project, released by the kernel if the process dies.

    Two OS locks are taken: one on the folder that holds the lock file and one on the lock file
    itself. The folder lock is what keeps runs apart: deleting or replacing the lock file while a
    run holds it cannot admit a second runner, because the second runner is refused by the
    folder's lock, which no file operation inside the folder removes. The lock file carries the
    holder's pid, host and start time so that a refused runner can say who holds it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._folder_fd: int | None = None
        self._folder_identity: tuple[int, int] | None = None

    def holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another acbatch process"

    def acquire(self) -> ProjectLock:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StoreError(_describe_os_error(exc, self.path)) from None
        try:
            fcntl.flock(folder_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(folder_fd)
            raise self._held() from None
        info = os.fstat(folder_fd)
        self._folder_fd = folder_fd
        self._folder_identity = (info.st_dev, info.st_ino)
        try:
            self._handle = self._lock_file()
        except BaseException:
            self.release()
            raise
        return self

    def _held(self) -> LockHeld:
        return LockHeld(
            f"another acbatch run holds {self.path} ({self.holder()}); wait for it to finish"
        )

    def _lock_file(self) -> IO[str]:
        """Lock the file at the path and write the holder's details into it.

        The file is locked too, so that an older acbatch, which locks only the file, is still
        kept out. A file replaced between opening and locking is opened again, so the details
        end up in the file that is at the path.
        """
        for _attempt in range(5):
            try:
                handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
            except OSError as exc:
                raise StoreError(_describe_os_error(exc, self.path)) from None
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise self._held() from None
            if _same_file(handle.fileno(), self.path):
                break
            handle.close()
        else:
            raise StoreError(f"{self.path} keeps being replaced; is another program using it?")
        handle.seek(0)
        handle.truncate()
        started = time.strftime(TIMESTAMP_FORMAT, time.gmtime())
        handle.write(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started})
        )
        handle.flush()
        return handle

    def still_held(self) -> bool:
        """Whether this lock still keeps other runs out of the project.

        False once released, or when the project folder was removed or replaced under the run
        (its lock then guards a folder nobody uses). A deleted or replaced lock file does not
        matter: the folder's lock is what keeps other runs out.
        """
        if self._folder_fd is None or self._folder_identity is None:
            return False
        try:
            info = os.stat(self.path.parent)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._folder_identity

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                if _same_file(self._handle.fileno(), self.path):
                    self._handle.seek(0)
                    self._handle.truncate()
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        if self._folder_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._folder_fd, fcntl.LOCK_UN)
            os.close(self._folder_fd)
            self._folder_fd = None
            self._folder_identity = None

    def __enter__(self) -> ProjectLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is the file now at `path`."""
    try:
        at_path = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)
