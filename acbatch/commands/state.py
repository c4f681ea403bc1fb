"""`acbatch state push|pull`: move episode state to and from the git remote by hand."""

from __future__ import annotations

import click

from acbatch.commands._common import EXIT_LOCKED_HELP, exit_codes_help
from acbatch.context import Context
from acbatch.errors import ConfigError
from acbatch.project.loader import load_show_config
from acbatch.project.model import ShowConfig
from acbatch.runner.batch import LOCK_NAME, parse_shard
from acbatch.statesync.backend import git_remote
from acbatch.statesync.git import RemoteLock
from acbatch.statesync.settings import read_state_settings
from acbatch.store import ProjectLock


@click.group("state")
def command() -> None:
    """Push the state folder to the git remote, or bring newer state from it.

    Uses state.git in acbatch.yaml (remote, branch) whatever state.backend says. The workflow
    `acbatch init` writes runs `acbatch state push` after every run, even a failed or cancelled
    one, so that no saved task id stays behind on the CI machine.

    \b
    Examples:
      acbatch state push        after a run that could not push (exit 3: another run holds the lock)
      acbatch state pull        before `acbatch plan`, in a checkout that may be behind
    """


@command.command(
    "push",
    epilog=exit_codes_help(
        "state pushed", "acbatch.yaml has errors or the push failed", EXIT_LOCKED_HELP
    ),
)
@click.option(
    "--shard",
    "shard_text",
    metavar="K/N",
    help="Push as shard K of N of a CI matrix (takes that shard's lock, not the whole show's).",
)
@click.pass_obj
def push(ctx: Context, shard_text: str | None) -> None:
    """Push every state file (and new review scripts) that is newer here than on the remote."""
    shard = None
    if shard_text is not None:
        try:
            shard = parse_shard(shard_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--shard") from None
    config = _config(ctx)
    settings = read_state_settings(config.paths.config)
    with ProjectLock(config.paths.root / LOCK_NAME):
        remote = git_remote(config.paths, config.paths.state, settings)
        lock = RemoteLock(remote, shard)
        lock.acquire(settings.git.lock_wait, note=ctx.info)
        try:
            pushed = remote.push([*remote.state_files(), *remote.review_files()])
        finally:
            lock.release()
    ctx.info(
        f"pushed {pushed} files to {remote.where}" if pushed else f"{remote.where} is up to date"
    )


@command.command(
    "pull",
    epilog=exit_codes_help(
        "newer state brought in", "acbatch.yaml has errors or the fetch failed", EXIT_LOCKED_HELP
    ),
)
@click.pass_obj
def pull(ctx: Context) -> None:
    """Bring state files that are newer on the remote into the state folder."""
    config = _config(ctx)
    settings = read_state_settings(config.paths.config)
    with ProjectLock(config.paths.root / LOCK_NAME):
        remote = git_remote(config.paths, config.paths.state, settings)
        brought = remote.pull()
    ctx.info(f"brought {len(brought)} state files from {remote.where}")


def _config(ctx: Context) -> ShowConfig:
    """acbatch.yaml alone: state can be moved even while a spec has an error."""
    config, problems = load_show_config(ctx.config_path)
    if config is None:
        shown = "; ".join(str(p) for p in problems if p.severity == "error")
        raise ConfigError(f"acbatch.yaml has errors: {shown}")
    return config
