"""Durable homes for episode state: the local folder (default) and a git remote."""

from acbatch.statesync.backend import (
    GitBackend,
    LocalBackend,
    StateBackend,
    open_state_backend,
    state_store,
)
from acbatch.statesync.settings import StateSettings, read_state_settings

__all__ = [
    "GitBackend",
    "LocalBackend",
    "StateBackend",
    "StateSettings",
    "open_state_backend",
    "read_state_settings",
    "state_store",
]
