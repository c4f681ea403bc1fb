"""`acbatch open`: the generated site in a browser (or its address, when there is none)."""

from __future__ import annotations

import click

from acbatch.commands._common import exit_codes_help, sandbox_option, shown_path
from acbatch.context import Context
from acbatch.errors import UserError


@click.command(
    "open",
    epilog=exit_codes_help(
        "opened, or its address printed", "no site yet, or acbatch.yaml has errors"
    ),
)
@sandbox_option
@click.pass_obj
def command(ctx: Context, sandbox: bool) -> None:
    """Open the show's site, output/index.html (sandbox/output/ with --sandbox), in a browser.

    Uses the system's default browser, or the command in $BROWSER. Without a browser (an SSH
    session, CI), it prints the page's path and file:// address instead and still succeeds.

    \b
    Examples:
      acbatch run --sandbox && acbatch open --sandbox
      BROWSER=firefox acbatch open
    """
    from acbatch.project.loader import load_show_config
    from acbatch.project.model import format_problem
    from acbatch.publish.browser import open_in_browser, site_page

    config, problems = load_show_config(ctx.config_path)
    if config is None:
        for problem in problems:
            click.echo(format_problem(problem), err=True)
        raise click.exceptions.Exit(1)
    from acbatch.runner.batch import workspace_paths

    page = site_page(workspace_paths(config.paths, sandbox).output)
    if not page.is_file():
        raise UserError(
            f"there is no site yet ({shown_path(page)} does not exist): run "
            + (
                "`acbatch run --sandbox` first"
                if sandbox
                else "`acbatch run` or `acbatch render` first"
            )
        )
    url = page.resolve().as_uri()
    if open_in_browser(url):
        ctx.info(f"opened {shown_path(page)} in your browser")
    else:
        click.echo(f"No browser here; open {shown_path(page)} ({url}) in one.")
