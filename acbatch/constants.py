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
ORIGINAL_AUDIO_SUFFIX = ".original.mp3"
"""The API's audio as downloaded, kept beside the published (mastered) `<id>.mp3`."""
