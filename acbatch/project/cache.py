"""Specs already checked, kept so that unchanged files are not parsed and validated again.

`acbatch validate`, `plan`, `run` and `status` each load every spec. Reading YAML with positions
and checking it against the schema is most of that time, and between two commands almost no
spec changes. So each valid spec's result is kept in the project's cache store (acbatch.cache,
`.acbatch/cache.sqlite3`): the merged spec data, the resolved speaker ids, its warnings and where
its id and episode number were written (for the cross-file messages).

An entry is used only when the spec file's bytes hash to the digest stored with it and the
cache was written under the same context key: acbatch's version and spec-loading code, the
schemas, what acbatch.yaml says (its parsed content, so an edited comment or a re-indented
file keeps the cache), the voice catalog and the project folder. An entry that points into
acbatch.yaml (a warning about a default, say) also records that file's bytes, as its line
numbers depend on them. Anything else about a spec that can change without its bytes changing
is checked again on every load: `file:` sources must still be regular files inside the
project, and the checks across files (duplicate ids and episode numbers) always run. Files with
problems are never cached, so their messages are always produced afresh.

A missing or damaged store is ignored; a cache that cannot be written is skipped silently.
Nothing in it is ever executed.
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
from acbatch.cache import CacheArea, CacheStore

AREA = "specs"
CODE_FILES = (
    "project/cache.py",
    "project/loader.py",
    "project/model.py",
    "project/schema.py",
    "project/suggest.py",
    "project/yamlsafe.py",
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


def regular_file_digest(path: str | Path) -> str | None:
    """content_digest() of a regular file, read in blocks; None for anything else or when it
    cannot be read. Opened without blocking, like read_regular_file (a FIFO never hangs)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


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
    from acbatch.project.schema import schema_path

    digest = hashlib.sha256()
    for name in SCHEMA_NAMES:
        data = read_regular_file(schema_path(name), 16 * 1024 * 1024)
        digest.update(hashlib.sha256(data).digest() if data is not None else b"unreadable")
    return digest.digest()


def context_key(root: Path, config_data: Any, voices: Path) -> str | None:
    """What every cached result depends on besides its own file; None: do not cache.

    `config_data`: acbatch.yaml as parsed (comments and layout do not count). The voice
    catalog counts by its bytes, or as absent; a catalog that exists but cannot be read (or is
    not a regular file) turns the cache off rather than guess.
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
    try:
        config_text = json.dumps(config_data, sort_keys=True, default=repr, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None
    digest = hashlib.sha256()
    for part in (
        _code_identity(),
        _schema_identity(),
        os.fsencode(str(root)),
        hashlib.sha256(config_text.encode("utf-8", "surrogatepass")).digest(),
        catalog_part,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class SpecCache:
    """Cached results by spec path, each valid only for the file content it was made from."""

    def __init__(
        self,
        area: CacheArea | None,
        *,
        config_file: Path | None = None,
        config_digest: str = "",
        entries: dict[str, list[Any]] | None = None,
    ) -> None:
        self.area = area
        self.config_file = str(config_file) if config_file is not None else None
        self.config_digest = config_digest
        self._entries: dict[str, list[Any]] = entries if entries is not None else {}
        self._put: set[str] = set()
        self._dropped: set[str] = set()
        self.root: Path | None = None
        self.key = ""
        """Where and under which context key to create the store on the first save."""

    @classmethod
    def open(cls, root: Path, key: str, config_file: Path, config_bytes: bytes) -> SpecCache:
        """The cache of the project in `root` written under `key` (empty when unusable).

        `config_file` and `config_bytes`: acbatch.yaml, which positions in entries may name.
        """
        # Not created until there is something to keep: a check that finds only problems
        # writes nothing.
        store = CacheStore.open(root, create=False)
        area = store.area(AREA, key) if store is not None else None
        entries: dict[str, list[Any]] = {}
        if area is not None:
            for name, meta, _data in area.rows():
                if _well_formed(meta):
                    entries[name] = meta
        cache = cls(
            area,
            config_file=config_file,
            config_digest=content_digest(config_bytes),
            entries=entries,
        )
        cache.root, cache.key = root, key
        return cache

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, spec: Path, digest: str) -> Entry | None:
        found = self._entries.get(str(spec))
        if found is None or found[0] != digest:
            return None
        if found[1] and found[1] != self.config_digest:
            return None  # it points into an acbatch.yaml laid out differently
        entry: Entry = found[2]
        return entry

    def put(self, spec: Path, digest: str, entry: Entry) -> None:
        pinned = self.config_digest if self._points_into_config(entry) else ""
        self._entries[str(spec)] = [digest, pinned, entry]
        self._put.add(str(spec))
        self._dropped.discard(str(spec))

    def discard(self, spec: Path) -> None:
        if self._entries.pop(str(spec), None) is not None:
            self._dropped.add(str(spec))
            self._put.discard(str(spec))

    def keep_only(self, specs: list[Path]) -> None:
        """Forget specs that are no longer there (after a load of the whole specs folder)."""
        wanted = {str(spec) for spec in specs}
        for name in [name for name in self._entries if name not in wanted]:
            self.discard(Path(name))

    def save(self) -> bool:
        """Write the entries that changed; True when written. A failed write is not an error."""
        if not (self._put or self._dropped):
            return False
        if self.area is None and self.root is not None and self._put:
            store = CacheStore.open(self.root)
            self.area = store.area(AREA, self.key) if store is not None else None
        if self.area is None:
            return False
        rows = [(name, self._entries[name], b"") for name in sorted(self._put)]
        if not self.area.update(rows, sorted(self._dropped)):
            return False
        self._put, self._dropped = set(), set()
        return True

    def close(self) -> None:
        if self.area is not None:
            self.area.store.close()

    def _points_into_config(self, entry: Entry) -> bool:
        files = [w[0] for w in entry.get("warnings", [])]
        files += [i[1] for i in entry.get("ids", [])]
        files += [n[2] for n in entry.get("numbers", [])]
        return self.config_file in files


def _well_formed(meta: Any) -> bool:
    return (
        isinstance(meta, list)
        and len(meta) == 3
        and isinstance(meta[0], str)
        and isinstance(meta[1], str)
        and isinstance(meta[2], dict)
    )
