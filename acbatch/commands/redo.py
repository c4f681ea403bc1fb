"""`acbatch redo`: pay for an episode's work again, on your word."""

from __future__ import annotations

import click

from acbatch.commands._controls import control, control_options
from acbatch.commands.run import EXIT_CODES_HELP
from acbatch.context import Context
from acbatch.runner.decide import Word


@click.command("redo", epilog=EXIT_CODES_HELP)
@click.argument("ids", nargs=-1, required=True)
@click.option("--audio-only", is_flag=True, help="Keep the script; make new audio from it.")
@control_options
@click.pass_obj
def command(
    ctx: Context,
    ids: tuple[str, ...],
    audio_only: bool,
    sandbox: bool,
    base_url: str | None,
    no_render: bool,
    as_json: bool,
) -> None:
    """Force new paid creates for each episode ID: both steps, or only the audio.

    Prints the credits at stake, then runs those episodes.

    \b
    Examples:
      acbatch redo tide-pools
      acbatch redo tide-pools --audio-only
    """
    word = Word(redo="audio" if audio_only else "all")
    control(
        ctx, ids, word, sandbox=sandbox, base_url=base_url, as_json=as_json, render=not no_render
    )
