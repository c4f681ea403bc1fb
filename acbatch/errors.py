"""Errors meant for users: one clear sentence, an exit code, never a traceback."""

from __future__ import annotations

from typing import IO, Any

import click


class UserError(click.ClickException):
    """A problem the user can fix; printed on stderr as `acbatch: error: <message>`."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"acbatch: error: {self.format_message()}", err=True)


class ConfigError(UserError):
    """acbatch.yaml or a path it names is wrong."""


class LockHeld(UserError):
    """Another runner holds the project's lock."""

    exit_code = 3


class BudgetExhausted(UserError):
    """The credit budget or the account's balance ran out."""

    exit_code = 4
