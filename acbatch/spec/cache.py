"""Specs already checked, kept so that unchanged files are not parsed and validated again.

`acbatch validate`, `plan`, `run` and `status` each load every spec. Reading YAML with positions
and checking it against the schema is most of that time, and between two commands almost no
spec changes. So each valid spec's result is kept in `<paths.state>/.spec-cache.bin`: the merged
spec data, the resolved speaker ids, its warnings and where its id and episode number were
written (for the cross-file messages).

An entry is used only when the spec file's bytes hash to the digest stored with it and the
cache was written under the same context key: acbatch's version and spec-loading code, the
schemas, acbatch.yaml, the voice catalog and the project folder. Anything else about a spec
that can change without its bytes changing is checked again on every load: `file:` sources
must still be regular files inside the project, and the checks across files (duplicate ids and
episode numbers) always run. Files with problems are never cached, so their messages are always
produced afresh.

The file is a magic line, the context key, a SHA-256 of the payload and the payload (JSON of
plain data). A missing, damaged, truncated or foreign file is ignored; a cache that cannot be
written is skipped silently. Nothing in it is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import acbatch
from acbatch.store import StoreError, atomic_write_bytes

CACHE_NAME = ".spec-cache.bin"
MAGIC = b"acbatch-spec-cache 1\n"
CODE_FILES = (
    "spec/cache.py",
    "spec/loader.py",
    "spec/model.py",
    "spec/schema.py",
    "spec/suggest.py",
    "spec/yamlsafe.py",
    "codes.py",
    "voices.py",
)
"""acbatch's own files whose code decides a spec's result (a changed file empties the cache)."""
SCHEMA_NAMES = ("episode", "show")

Entry = dict[str, Any]


def read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file of at most `max_bytes`, else None (no error raised).

    Opened without blocking, so a FIFO in the specs folder cannot hang the command; callers
    fall back to the careful reader, which explains what is wrong with the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        # Ask for the size the file has (a read of max_bytes would allocate that much each
        # time), then go on to the end in case it grew.
        chunks = []
        total = 0
        wanted = info.st_size + 1
        while total <= max_bytes:
            chunk = os.read(fd, min(wanted, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            wanted = 64 * 1024
        return None if total > max_bytes else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _code_identity() -> bytes:
    """Version, Python and the bytes of the code that loads specs (a marker where unreadable)."""
    package = Path(acbatch.__file__).parent
    digest = hashlib.sha256()
    digest.update(f"{acbatch.__version__}\0{sys.version_info[:2]}\0".encode())
    for name in CODE_FILES:
        data = read_regular_file(package / name, 16 * 1024 * 1024)
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(data).digest() if data is not None else b"unreadable")
    return digest.digest()


def _schema_identity() -> bytes:
    from acbatch.spec.schema import schema_path

    digest = hashlib.sha256()
    for name in SCHEMA_NAMES:
        data = read_regular_file(schema_path(name), 16 * 1024 * 1024)
        digest.update(hashlib.sha256(data).digest() if data is not None else b"unreadable")
    return digest.digest()


def context_key(root: Path, config_bytes: bytes, voices: Path) -> str | None:
    """What every cached result depends on besides its own file; None: do not cache.

    The voice catalog counts by its bytes, or as absent; a catalog that exists but cannot be
    read (or is not a regular file) turns the cache off rather than guess.
    """
    catalog = read_regular_file(voices, 64 * 1024 * 1024)
    if catalog is None:
        try:
            if voices.exists():
                return None
        except OSError:
            return None
        catalog_part = b"absent"
    else:
        catalog_part = b"catalog " + hashlib.sha256(catalog).digest()
    digest = hashlib.sha256()
    for part in (
        _code_identity(),
        _schema_identity(),
        os.fsencode(str(root)),
        hashlib.sha256(config_bytes).digest(),
        catalog_part,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class SpecCache:
    """Cached results by spec path, each valid only for the file content it was made from."""

    def __init__(self, path: Path, key: str, entries: dict[str, list[Any]] | None = None) -> None:
        self.path = path
        self.key = key
        self._entries: dict[str, list[Any]] = entries or {}
        self._changed = False

    @classmethod
    def open(cls, path: Path, key: str) -> SpecCache:
        """The cache at `path` if it was written under `key` and is intact; else an empty one."""
        return cls(path, key, _parse(path, key))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, spec: Path, digest: str) -> Entry | None:
        found = self._entries.get(str(spec))
        if found is None or found[0] != digest:
            return None
        entry: Entry = found[1]
        return entry

    def put(self, spec: Path, digest: str, entry: Entry) -> None:
        self._entries[str(spec)] = [digest, entry]
        self._changed = True

    def discard(self, spec: Path) -> None:
        if self._entries.pop(str(spec), None) is not None:
            self._changed = True

    def keep_only(self, specs: list[Path]) -> None:
        """Forget specs that are no longer there (after a load of the whole specs folder)."""
        wanted = {str(spec) for spec in specs}
        stale = [name for name in self._entries if name not in wanted]
        for name in stale:
            del self._entries[name]
        self._changed = self._changed or bool(stale)

    def save(self) -> bool:
        """Write the cache if it changed; True when written. A failed write is not an error."""
        if not self._changed:
            return False
        payload = json.dumps(self._entries, separators=(",", ":")).encode("ascii")
        header = MAGIC + self.key.encode("ascii") + b"\n"
        checksum = hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
        try:
            atomic_write_bytes(self.path, header + checksum + payload)
        except StoreError:
            return False
        self._changed = False
        return True


def _parse(path: Path, key: str) -> dict[str, list[Any]]:
    data = read_regular_file(path, 1 << 40)
    header = MAGIC + key.encode("ascii") + b"\n"
    if data is None or not data.startswith(header):
        return {}
    start = len(header)
    newline = data.find(b"\n", start)
    if newline < 0:
        return {}
    checksum = data[start:newline]
    payload = data[newline + 1 :]
    del data  # one copy of a large cache at a time
    if hashlib.sha256(payload).hexdigest().encode("ascii") != checksum:
        return {}
    try:
        entries = json.loads(payload)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {
        name: value
        for name, value in entries.items()
        if isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
    }
