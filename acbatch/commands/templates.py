"""`acbatch templates list|copy`: the built-in templates, and copies to edit for this show."""

from __future__ import annotations

import click

from acbatch.commands._common import echo_json, exit_codes_help, json_option, shown_path
from acbatch.context import Context
from acbatch.project.model import Paths


def _show_paths(ctx: Context) -> Paths:
    """The show's paths; exit 1 after printing acbatch.yaml's problems when it has errors."""
    from acbatch.project.loader import load_show_config
    from acbatch.project.model import format_problem

    config, problems = load_show_config(ctx.config_path)
    if config is None:
        for problem in problems:
            click.echo(format_problem(problem), err=True)
        raise click.exceptions.Exit(1)
    return config.paths


@click.group("templates")
def command() -> None:
    """The built-in templates of show notes, episode pages and the feed.

    A file in the show's templates/ folder with the name of a built-in template replaces it
    for this show; every other template stays built-in. Get a copy to edit with
    `acbatch templates copy NAME`, then `acbatch render` rebuilds the output with no API calls.

    \b
    Examples:
      acbatch templates list
      acbatch templates copy notes.html.j2 && $EDITOR templates/notes.html.j2
    """


@command.command("list", epilog=exit_codes_help("listed", "acbatch.yaml has errors"))
@json_option
@click.pass_obj
def list_templates(ctx: Context, as_json: bool) -> None:
    """Each built-in template, and whether this show replaces it."""
    from acbatch.publish.template_files import template_statuses

    paths = _show_paths(ctx)
    statuses = template_statuses(paths.templates)
    if as_json:
        echo_json(
            "templates",
            {
                "folder": str(paths.templates),
                "templates": [
                    {
                        "name": s.name,
                        "override": str(s.override) if s.override else None,
                        "copied_from": s.copied_from,
                        "edited": s.edited,
                    }
                    for s in statuses
                ],
            },
            ok=True,
        )
        return
    width = max(len(s.name) for s in statuses)
    for status in statuses:
        if status.override is None:
            where = "built-in"
        else:
            where = f"replaced by {shown_path(status.override)}"
            if status.copied_from:
                where += f" (copied from acbatch {status.copied_from}"
                where += ", edited)" if status.edited else ", not edited yet)"
        click.echo(f"{status.name:<{width}}  {where}")


@command.command(
    "copy",
    epilog=exit_codes_help(
        "copied", "acbatch.yaml has errors, no such template, or the file is already there"
    ),
)
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--force", is_flag=True, help="Replace a file that is already there.")
@click.pass_obj
def copy_templates(ctx: Context, names: tuple[str, ...], force: bool) -> None:
    """Copy built-in templates into the show's templates/ folder, to edit them.

    Each copy starts with a comment saying which acbatch version it came from. An existing
    file is never replaced unless --force is given.
    """
    from acbatch.publish.template_files import builtin_name, copy_template

    paths = _show_paths(ctx)
    for name in names:
        builtin_name(name)  # every name is checked before anything is written
    for name in names:
        target = copy_template(name, paths.templates, force=force)
        ctx.info(f"wrote {shown_path(target)}: edit it, then `acbatch render`")
