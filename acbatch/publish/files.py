"""Writing output files so readers never see a half-written one.

A write that fails (a full disk, a read-only folder) leaves the previous file in place and
raises PublishError: one line naming the folder and what to do, never a traceback.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from acbatch.publish.errors import PublishError

_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space, then run again",
    errno.EDQUOT: "the disk quota is used up: free some space, then run again",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def write_failure(folder: Path, exc: OSError) -> PublishError:
    """The one-line error for a write into `folder` that failed with `exc`."""
    reason = _ADVICE.get(exc.errno or 0) or exc.strerror or str(exc)
    return PublishError(f"cannot write to {folder}: {reason} (the previous files are intact)")


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, durable: bool = False) -> None:
    """Write `data` (bytes, or pieces of it) to a temp file beside `path`, rename it over `path`."""
    try:
        _write_atomic(path, data, durable=durable)
    except PublishError:
        raise
    except OSError as exc:
        raise write_failure(path.parent, exc) from None


def _write_atomic(path: Path, data: bytes | Iterable[bytes], *, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                out.writelines(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    write_atomic(path, text.encode("utf-8"), durable=durable)


def same_content(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
