"""Writing output files so readers never see a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, durable: bool = False) -> None:
    """Write `data` (bytes, or pieces of it) to a temp file beside `path`, rename it over `path`."""
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
