"""`acbatch doctor`: is this machine ready to run the show?"""

from __future__ import annotations

import sys

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option
from acbatch.context import Context
from acbatch.doctor import run_checks


@click.command(
    "doctor", epilog=exit_codes_help("every check passed (or was skipped)", "a check failed")
)
@click.option("--base-url", help="API base URL to check (beats AUDIOCLEANER_API_BASE).")
@json_option
@click.pass_obj
def command(ctx: Context, base_url: str | None, as_json: bool) -> None:
    """Check Python, the project, the API key and host, offline speech and the folders.

    The key is checked with a read-only status call; nothing is created or billed.

    \b
    Example:
      AUDIOCLEANER_API_KEY=... acbatch doctor
    """
    checks = run_checks(ctx, base_url)
    failed = [c for c in checks if not c.ok]
    if as_json:
        echo_json("doctor", {"checks": [c.to_json() for c in checks]}, ok=not failed)
    else:
        for check in checks:
            mark = "skip" if check.skipped else ("ok" if check.ok else "FAIL")
            click.echo(f"{mark:>4}  {check.name:<15} {check.detail}")
            if not check.ok and check.fix:
                click.echo(f"      {'':<15} fix: {check.fix}")
    sys.exit(1 if failed else 0)
