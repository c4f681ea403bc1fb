"""The `acbatch` command line: a thin click group; each verb lives in acbatch.commands.<verb>."""

from __future__ import annotations

import importlib

import click

from acbatch import __version__
from acbatch.commands._common import (
    EXIT_CANCELLED_HELP,
    EXIT_CREDITS_HELP,
    EXIT_LOCKED_HELP,
    exit_codes_help,
)

# verb -> module under acbatch.commands; each module exposes `command`.
COMMANDS: dict[str, str] = {
    "init": "init",
    "validate": "validate",
    "plan": "plan",
    "run": "run",
    "status": "status",
    "approve": "approve",
    "render": "render",
    "feed": "feed",
    "voices": "voices",
    "sandbox": "sandbox",
    "doctor": "doctor",
    "retry": "retry",
    "redo": "redo",
    "adopt": "adopt",
    "costs": "costs",
    "templates": "templates",
    "open": "open",
    "state": "state",
}

EXIT_INTERNAL = 70
"""An unexpected error (a bug): its traceback goes to the log file named on stderr."""


class LazyGroup(click.Group):
    """Imports a verb's module only when that verb runs, so `acbatch --help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def invoke(self, ctx: click.Context) -> object:
        """The one error path: a UserError is one line and its exit code; anything unexpected
        is one line naming the log file that holds its traceback (exit 70)."""
        from acbatch.errors import UserError
        from acbatch.redact import redact

        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"acbatch: error: {redact(exc.message)}", err=True)
            ctx.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("acbatch: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: never a traceback on the terminal
            log = write_crash_log(ctx.obj, exc)
            click.echo(
                f"acbatch: internal error: {type(exc).__name__}: {redact(str(exc))[:200]}; "
                f"the traceback is in {log}; please report it",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)
        return None  # pragma: no cover - ctx.exit raised

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"acbatch.commands.{module_name}")
        command: click.Command = module.command
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=exit_codes_help(
        "ok",
        "an episode or a file has a problem",
        EXIT_LOCKED_HELP,
        EXIT_CREDITS_HELP,
        EXIT_CANCELLED_HELP,
    ),
)
@click.version_option(__version__, prog_name="acbatch")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, dir_okay=True),
    default=None,
    help="Project folder holding acbatch.yaml (default: the current folder).",
)
@click.option("-v", "--verbose", count=True, help="More detail; repeat for debug output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the final summary.")
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None, verbose: int, quiet: bool) -> None:
    """acbatch: YAML episode specs in git -> scripts, audio, show notes and an RSS feed.

    \b
    Examples:
      acbatch validate            check every spec against the schemas
      acbatch plan                what a run would do, and what it would cost
      acbatch run --sandbox       the whole pipeline against the offline sandbox
      acbatch status              where every episode stands
    """
    from acbatch.context import Context

    ctx.obj = Context(project_dir=project_dir, verbosity=-1 if quiet else verbose)


def write_crash_log(context: object, exc: BaseException) -> str:
    """Append the traceback to the project's cache folder (else the user's), with the version."""
    import datetime
    import os
    import traceback
    from pathlib import Path

    from acbatch.cache import cache_folder
    from acbatch.constants import CACHE_FOLDER, CONFIG_NAME, LOG_NAME
    from acbatch.redact import redact

    root = Path(getattr(context, "project_dir", None) or ".").resolve()
    if (root / CONFIG_NAME).is_file():
        folder = root / CACHE_FOLDER
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "acbatch"
    path = folder / LOG_NAME
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    try:
        if folder.name == CACHE_FOLDER:
            cache_folder(root)
        else:
            folder.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"### {stamp} acbatch {__version__}\n{redact(text)}\n")
    except OSError:
        return "(no log: the cache folder cannot be written)"
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="acbatch")


if __name__ == "__main__":  # pragma: no cover
    main()
