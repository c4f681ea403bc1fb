"""Names every part of acbatch agrees on, declared once."""

from __future__ import annotations

CONFIG_NAME = "acbatch.yaml"
"""The show's file; its folder is the project."""
CACHE_FOLDER = ".acbatch"
"""The project's caches and logs: never committed (the folder ignores itself in git)."""
LOG_NAME = "acbatch.log"
"""Where unexpected errors' tracebacks go, inside the cache folder."""
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Every time acbatch writes (state, ledger, logs, progress lines): UTC, to the second."""
CACHE_STORE_NAME = "cache.sqlite3"
"""The SQLite file, inside the cache folder, that holds every cache (acbatch.cache)."""
SPEC_SUFFIXES = (".yaml", ".yml")
"""An episode spec, specs/<id>.yaml."""
REVIEW_SUFFIXES = (".script.yaml", ".script.yml")
"""A script for review beside its spec, specs/<id>.script.yaml (not a spec)."""
SOURCE_SUFFIXES_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "text": (".txt",),
    "markdown": (".md", ".markdown"),
    "html": (".html", ".htm"),
    "pdf": (".pdf",),
    "docx": (".docx",),
}
"""The local files a spec's `source.file` may name, by how their text is extracted (the episode
schema's pattern accepts exactly these: tests/test_one_source.py)."""
SOURCE_SUFFIXES = tuple(suffix for group in SOURCE_SUFFIXES_BY_FORMAT.values() for suffix in group)

PODCAST_TEXT_LIMIT = 128
"""Podcasting 2.0 asks node values (names, titles, labels) to stay within 128 characters."""
ORIGINAL_AUDIO_SUFFIX = ".original.mp3"
"""The API's audio as downloaded, kept beside the published (mastered) `<id>.mp3`."""
