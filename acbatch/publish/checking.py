"""Checking the feed items a render produces, in a second process while the render goes on.

A render knows the feed's channel (its head and tail) before any item, so the items it has not
checked before can be streamed between that head and tail into a feed checker as they are
rendered. From WORKER_MIN_ITEMS items on, the checker runs in a child Python process
(`python -m acbatch.publish.checking`) on another core. Whatever goes wrong with the child (it
cannot start, dies, answers nonsense), the render checks the same bytes itself: the findings
never depend on where they were computed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from acbatch.publish.feedcheck import FeedItemsChecker, FeedProblem

WORKER_MIN_ITEMS = 1000
"""Fewer items are checked in the render's own process: a child takes ~0.15 s to start, about
what checking 1,000 items takes, and it starts only once that many items are waiting."""
WORKER_TIMEOUT_SECONDS = 600.0
_PIPE_BYTES = 1 << 20
_BATCH_ITEMS = 64


class ItemCheck:
    """Feed-checks head + (item + separator)* + tail, the items added one at a time.

    Use as a context manager (the child process, if any, is stopped on the way out), add()
    each item, then finish() for the findings, positions counting the added items only.
    """

    def __init__(
        self,
        head: bytes,
        separator: bytes,
        tail: bytes,
        *,
        local_root: Path,
        base_url: str,
        worker_min_items: int = WORKER_MIN_ITEMS,
        html_titles: str = "error",
    ) -> None:
        self.head, self.separator, self.tail = head, separator, tail
        self.local_root = local_root
        self.base_url = base_url
        self.html_titles = html_titles
        self.worker_min_items = worker_min_items
        self.items: list[bytes] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._worker_failed = False
        self._sent = 0
        """How many items the worker has been sent."""
        self.checked_by_worker = False
        """finish() returned the child process's findings."""

    def __enter__(self) -> ItemCheck:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop()

    @property
    def worker_pid(self) -> int | None:
        """The child process checking the items, while there is one."""
        process = self._process
        if process is None or self._worker_failed or process.returncode is not None:
            return None
        return process.pid

    @property
    def in_worker(self) -> bool:
        """The items are being checked in a child process."""
        return self._process is not None and not self._worker_failed

    def add(self, item: bytes) -> None:
        items = self.items
        items.append(item)
        if self._worker_failed:
            return
        if self._process is None:
            if len(items) >= self.worker_min_items:
                self._start()
        elif len(items) - self._sent >= _BATCH_ITEMS:
            self._send_items()

    def finish(self) -> list[FeedProblem]:
        """The findings for head + the added items + tail."""
        problems = self._worker_findings() if self._process is not None else None
        self.checked_by_worker = problems is not None
        if problems is None:
            checker = FeedItemsChecker(
                self.head,
                self.separator,
                self.tail,
                local_root=self.local_root,
                base_url=self.base_url,
                html_titles=self.html_titles,
            )
            for item in self.items:
                checker.add(item)
            problems = checker.close()
        return problems

    def _start(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            __name__,
            f"--html-titles={self.html_titles}",
            "--",
            str(self.local_root),
            self.base_url,
        ]
        try:
            if not sys.executable or getattr(sys, "frozen", False):
                raise OSError("no Python interpreter to start (embedded or frozen)")
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                bufsize=0,  # batches are joined here; nothing should wait in a buffer
            )
        except OSError:
            self._worker_failed = True
            return
        assert self._process.stdin is not None
        _grow_pipe(self._process.stdin)
        self._send(_framed([self.head, self.separator, self.tail]))
        self._send_items()

    def _send_items(self) -> None:
        """Send the items added since the last call."""
        pieces = _framed(self.items[self._sent :])
        self._sent = len(self.items)
        self._send(pieces)

    def _send(self, pieces: list[bytes]) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        data = memoryview(b"".join(pieces))
        try:
            while data:
                written = process.stdin.write(data)
                if not written:
                    raise BrokenPipeError("the checker takes no more input")
                data = data[written:]
        except OSError:  # the child is gone: check in this process instead
            self._worker_failed = True
            self._stop()

    def _worker_findings(self) -> list[FeedProblem] | None:
        process = self._process
        if process is None or self._worker_failed:
            return None
        self._send_items()
        if self._worker_failed:
            return None
        try:
            output, _ = process.communicate(timeout=WORKER_TIMEOUT_SECONDS)
            if process.returncode != 0:
                return None
            return [FeedProblem.from_json(raw) for raw in json.loads(output)]
        except (OSError, ValueError, TypeError, KeyError, subprocess.TimeoutExpired):
            return None
        finally:
            self._stop()

    def _stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            process.communicate(timeout=WORKER_TIMEOUT_SECONDS)


def _grow_pipe(stream: IO[bytes]) -> None:
    """A larger pipe lets the render run ahead of the checker (Linux; elsewhere no-op)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass


def _framed(pieces: list[bytes]) -> list[bytes]:
    """Each piece preceded by its length (4 bytes, big-endian): how the child reads them."""
    return [part for piece in pieces for part in (len(piece).to_bytes(4, "big"), piece)]


def _frames(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        size = stream.read(4)
        if not size:
            return
        length = int.from_bytes(size, "big")
        data = stream.read(length)
        if len(size) != 4 or len(data) != length:
            raise ValueError("the stream ends inside a piece")
        yield data


def main(argv: list[str] | None = None) -> int:
    """Child process: check the feed pieces read from stdin, print the findings as JSON.

    stdin carries the head, the separator, the tail, then the items, each framed by _framed().
    """
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("local_root", type=Path)
    parser.add_argument("base_url")
    parser.add_argument("--html-titles", default="error", choices=("error", "warning"))
    args = parser.parse_args(argv)
    frames = _frames(sys.stdin.buffer)
    head, separator, tail = next(frames), next(frames), next(frames)
    checker = FeedItemsChecker(
        head,
        separator,
        tail,
        local_root=args.local_root,
        base_url=args.base_url,
        html_titles=args.html_titles,
    )
    for item in frames:
        checker.add(item)
    sys.stdout.write(json.dumps([p.to_json() for p in checker.close()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
