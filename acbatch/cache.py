"""The project's cache folder (.acbatch/) and the one SQLite store every cache lives in.

Caches only save time: whatever is in them can be rebuilt from the project, so any trouble
with the store (a damaged or foreign file, a read-only folder, a locked database) turns the
cache off or empties it, never fails a command. The store is a standard-library SQLite file,
`.acbatch/cache.sqlite3`; each cache is an *area* of rows (key -> JSON metadata and bytes)
that is valid only under the context it was written with (acbatch's version, the schemas, the
show's settings...): opening an area under another context empties it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from acbatch.constants import CACHE_FOLDER, CACHE_STORE_NAME

STORE_VERSION = 1
"""Bumped when the tables change; a store of another version is emptied."""
_GITIGNORE = "# acbatch's caches and logs: never committed\n*\n"
_TIMEOUT_SECONDS = 5.0


def cache_folder(root: Path) -> Path:
    """`root`/.acbatch, created with a .gitignore that ignores the folder itself.

    Raises OSError when it cannot be created.
    """
    folder = root / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(_GITIGNORE, encoding="utf-8")
    return folder


Row = tuple[str, Any, bytes]
"""(key, JSON-able metadata, bytes)."""


class CacheStore:
    """One project's cache database; open areas with area(), close() when done."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, root: Path, *, create: bool = True) -> CacheStore | None:
        """The store of the project in `root`, or None when it cannot be used.

        With `create` False, a project without a store gets None (and nothing is written).
        """
        if not create and not (root / CACHE_FOLDER / CACHE_STORE_NAME).is_file():
            return None
        try:
            path = cache_folder(root) / CACHE_STORE_NAME
        except OSError:
            return None
        for attempt in range(2):
            try:
                return cls(_connect(path), path)
            except sqlite3.DatabaseError:
                # Not a database (or a damaged one): it only held caches, start again.
                if attempt == 0:
                    with contextlib.suppress(OSError):
                        path.unlink()
        return None

    def area(self, name: str, context: str) -> CacheArea:
        """The area `name`, emptied first if it was written under another context."""
        return CacheArea(self, name, context)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.connection.close()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=_TIMEOUT_SECONDS, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != STORE_VERSION:  # a new file, or tables of another version
            connection.execute("BEGIN IMMEDIATE")
            with connection:
                connection.execute("DROP TABLE IF EXISTS areas")
                connection.execute("DROP TABLE IF EXISTS entries")
                connection.execute(
                    "CREATE TABLE areas (name TEXT PRIMARY KEY, context TEXT NOT NULL)"
                )
                connection.execute(
                    "CREATE TABLE entries (area TEXT NOT NULL, key TEXT NOT NULL,"
                    " meta TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (area, key))"
                    " WITHOUT ROWID"
                )
                connection.execute(f"PRAGMA user_version={STORE_VERSION}")
    except BaseException:
        connection.close()
        raise
    return connection


_DECODE_BATCH = 512
"""Rows decoded per JSON document: large enough to share keys, small enough not to matter."""


class CacheArea:
    """The rows of one cache. Every method swallows database errors: a cache may fail."""

    def __init__(self, store: CacheStore, name: str, context: str) -> None:
        self.store = store
        self.name = name
        self.context = context
        self.usable = True
        try:
            with store.connection as connection:
                connection.execute("BEGIN IMMEDIATE")
                found = connection.execute(
                    "SELECT context FROM areas WHERE name = ?", (name,)
                ).fetchone()
                if found is None or found[0] != context:
                    connection.execute("DELETE FROM entries WHERE area = ?", (name,))
                    connection.execute(
                        "INSERT OR REPLACE INTO areas (name, context) VALUES (?, ?)",
                        (name, context),
                    )
        except sqlite3.Error:
            self.usable = False

    def rows(self) -> Iterator[Row]:
        """Every row of the area (metadata decoded); nothing when the store cannot be read."""
        if not self.usable:
            return
        try:
            cursor = self.store.connection.execute(
                "SELECT key, meta, data FROM entries WHERE area = ?", (self.name,)
            )
            while batch := cursor.fetchmany(_DECODE_BATCH):
                # Decoded together, the rows share one string per distinct key (json reuses
                # keys within one document): a third less memory for a large project.
                metas = json.loads("[" + ",".join(meta for _key, meta, _data in batch) + "]")
                for (key, _meta, data), meta in zip(batch, metas, strict=True):
                    yield key, meta, data
        except (sqlite3.Error, ValueError, RecursionError):
            return

    def update(self, put: Iterable[Row] = (), delete: Iterable[str] = ()) -> bool:
        """Write `put` and remove the keys `delete`, in one transaction; False if it failed."""
        if not self.usable:
            return False
        try:
            with self.store.connection as connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(
                    "DELETE FROM entries WHERE area = ? AND key = ?",
                    [(self.name, key) for key in delete],
                )
                connection.executemany(
                    "INSERT OR REPLACE INTO entries (area, key, meta, data) VALUES (?, ?, ?, ?)",
                    [
                        (self.name, key, json.dumps(meta, separators=(",", ":")), data)
                        for key, meta, data in put
                    ],
                )
        except (sqlite3.Error, ValueError, TypeError):
            return False
        return True
