"""`acbatch sandbox`: serve the offline imitation of the Podcast API."""

from __future__ import annotations

from pathlib import Path

import click

from acbatch.commands._common import exit_codes_help
from acbatch.sandbox.faults import FaultPlan, parse_fault


def _faults(values: tuple[str, ...], seed: int) -> FaultPlan:
    plan = FaultPlan(seed=seed)
    for value in values:
        try:
            plan = parse_fault(value, plan)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
    return plan


@click.command(
    "sandbox",
    epilog=exit_codes_help("stopped with Ctrl-C", "it cannot listen on the address given"),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--script-delay", default=1.0, show_default=True, help="Seconds a script task waits.")
@click.option("--audio-delay", default=1.0, show_default=True, help="Seconds an audio task waits.")
@click.option(
    "--credits", type=click.IntRange(min=0), help="Starting balance (unlimited if unset)."
)
@click.option("--rate-limit", type=click.IntRange(min=1), help="Requests per second per key.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Tasks in flight per key.")
@click.option("--key", "keys", multiple=True, help="Accept only these keys (repeatable).")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME=P",
    help="Inject a fault: an API code (101003=0.1), 5xx, drop_before, drop_after, fail_task, "
    "latency=P:SECONDS. Repeatable.",
)
@click.option("--seed", default=0, show_default=True, help="Seed for fault injection.")
@click.option("--no-speech", is_flag=True, help="Return short silent MP3s (benchmarks).")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep tasks, results and audio in this folder: a sandbox restarted on it (on any "
    "port) answers for the old task ids. Without it, everything is gone when it stops.",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Accept and voice the speaker ids of this voice catalog (e.g. your account's "
    "voices.json) instead of the sandbox's demo voices.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def command(
    host: str,
    port: int,
    script_delay: float,
    audio_delay: float,
    credits: int | None,
    rate_limit: int | None,
    concurrency: int | None,
    keys: tuple[str, ...],
    faults: tuple[str, ...],
    seed: int,
    no_speech: bool,
    state_dir: Path | None,
    catalog_path: Path | None,
    verbose: bool,
) -> None:
    """Serve the sandbox: the Podcast API's four endpoints, offline, with real speech.

    It is a local imitation for demos and tests, never the real service.

    \b
    Examples:
      acbatch sandbox --port 8765
      AUDIOCLEANER_API_BASE=http://127.0.0.1:8765 AUDIOCLEANER_API_KEY=any acbatch run
      acbatch sandbox --fault 101003=0.1 --fault drop_after=0.05 --seed 7
      acbatch sandbox --port 8765 --state .sandbox --catalog voices.json
    """
    from acbatch.sandbox.backend import SandboxSettings
    from acbatch.sandbox.server import BANNER, SandboxServer
    from acbatch.voices import CatalogError, VoiceCatalog

    catalog = None
    if catalog_path is not None:
        try:
            catalog = VoiceCatalog.load(catalog_path)
        except CatalogError as exc:
            raise click.BadParameter(str(exc), param_hint="--catalog") from None

    if state_dir is not None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"{state_dir}: {exc.strerror}", param_hint="--state") from None
    settings = SandboxSettings(
        script_delay=script_delay,
        audio_delay=audio_delay,
        synthesize=not no_speech,
        credits=credits,
        rate_limit=rate_limit,
        concurrency_limit=concurrency,
        keys=frozenset(keys) if keys else None,
        faults=_faults(faults, seed),
        state_dir=state_dir,
        catalog=catalog,
    )
    try:
        server = SandboxServer(settings, host=host, port=port, verbose=verbose)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"WARNING: the sandbox is listening on {host}, beyond this machine.", err=True)
    click.echo(BANNER, err=True)
    click.echo(f"acbatch sandbox listening on {server.url}  (Ctrl-C to stop)", err=True)
    if state_dir is not None:
        kept = len(server.backend.tasks())
        click.echo(f"tasks are kept in {state_dir} ({kept} from earlier runs)", err=True)
    click.echo(server.url, nl=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        server.backend.close()
