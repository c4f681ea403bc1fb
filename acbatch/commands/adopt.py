"""`acbatch adopt`: take over the task an uncertain create made, instead of paying again."""

from __future__ import annotations

import click

from acbatch.api.client import GLOBAL_ID_PATTERN
from acbatch.commands._controls import control, control_options
from acbatch.commands.run import EXIT_CODES_HELP
from acbatch.context import Context
from acbatch.runner.decide import Word


@click.command("adopt", epilog=EXIT_CODES_HELP)
@click.argument("episode_id", metavar="ID")
@click.option("--script-task", metavar="GID", help="The script task id you found.")
@click.option("--audio-task", metavar="GID", help="The audio task id you found.")
@control_options
@click.pass_obj
def command(
    ctx: Context,
    episode_id: str,
    script_task: str | None,
    audio_task: str | None,
    sandbox: bool,
    base_url: str | None,
    no_render: bool,
    as_json: bool,
) -> None:
    """Adopt the task id of an `uncertain` episode's create, then poll it (no new create).

    When acbatch stopped while a create was on its way, it cannot know whether the task was
    made. If your account shows it, give its id here: acbatch polls that task instead of
    paying for another.

    \b
    Example:
      acbatch adopt tide-pools --audio-task 29a820e8-31ec-4502-859d-883be108d1e0
    """
    if (script_task is None) == (audio_task is None):
        raise click.UsageError("give exactly one of --script-task and --audio-task")
    step, task = ("script", script_task) if script_task else ("audio", audio_task)
    assert task is not None
    if not GLOBAL_ID_PATTERN.match(task):
        raise click.BadParameter(f"{task!r} is not a task id", param_hint=f"--{step}-task")
    word = Word(adopt=(step, task))
    control(
        ctx,
        (episode_id,),
        word,
        sandbox=sandbox,
        base_url=base_url,
        as_json=as_json,
        render=not no_render,
    )
