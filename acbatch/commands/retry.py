"""`acbatch retry`: send a failed or lost episode's step again, on your word."""

from __future__ import annotations

import click

from acbatch.commands._controls import control, control_options
from acbatch.commands.run import EXIT_CODES_HELP
from acbatch.context import Context
from acbatch.runner.decide import Word


@click.command("retry", epilog=EXIT_CODES_HELP)
@click.argument("ids", nargs=-1, required=True)
@control_options
@click.pass_obj
def command(
    ctx: Context,
    ids: tuple[str, ...],
    sandbox: bool,
    base_url: str | None,
    no_render: bool,
    as_json: bool,
) -> None:
    """Retry each failed, lost or audio_lost episode ID now, past api.max_attempts.

    Prints the credits at stake, then runs those episodes. A failed step is retried on its own
    a few times across runs (api.max_attempts); after that, and for a task the service lost,
    only this command sends a new create.

    \b
    Example:
      acbatch retry tide-pools
    """
    control(
        ctx,
        ids,
        Word(retry=True),
        sandbox=sandbox,
        base_url=base_url,
        as_json=as_json,
        render=not no_render,
    )
