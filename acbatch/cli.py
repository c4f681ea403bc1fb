"""The `acbatch` command line: a thin click group; each verb lives in acbatch.commands.<verb>."""

from __future__ import annotations

import importlib

import click

from acbatch import __version__

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
    "state": "state",
}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_BUDGET = 4


class LazyGroup(click.Group):
    """Imports a verb's module only when that verb runs, so `acbatch --help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"acbatch.commands.{module_name}")
        command: click.Command = module.command
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="acbatch")


if __name__ == "__main__":  # pragma: no cover
    main()
