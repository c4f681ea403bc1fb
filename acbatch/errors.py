"""Errors meant for users: one clear sentence, an exit code, never a traceback.

Library code raises these; `acbatch.cli.main` is the one place that prints them (as
`acbatch: error: <message>`) and turns them into the exit code. Nothing here depends on click.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError):
    """acbatch.yaml or a path it names is wrong."""


class LockHeld(UserError):
    """Another runner holds the project's lock."""

    exit_code = 3
