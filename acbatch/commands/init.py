"""`acbatch init [DIR] [--force]`: start a new project with a commented example."""

from __future__ import annotations

from pathlib import Path

import click

import acbatch
from acbatch.commands._common import exit_codes_help, plural
from acbatch.context import Context
from acbatch.scaffold import scaffold_project


@click.command(
    "init", epilog=exit_codes_help("created", "a file cannot be written (nothing is overwritten)")
)
@click.argument(
    "directory",
    required=False,
    type=click.Path(file_okay=False, dir_okay=True, path_type=Path),
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.pass_obj
def command(ctx: Context, directory: Path | None, force: bool) -> None:
    """Create a project in DIRECTORY (default: the project folder, usually the current one).

    Writes acbatch.yaml (commented), example specs in specs/, the JSON Schemas for editor
    completion, a voice catalog for the offline sandbox, placeholder artwork, templates/README.md,
    a GitHub Actions publishing workflow and .gitignore. Existing files are never overwritten
    unless --force is given.

    \b
    Examples:
      acbatch init my-show && cd my-show && acbatch validate
      acbatch init --force                 refresh the scaffold files here
    """
    target = directory if directory is not None else ctx.root
    written = scaffold_project(target, force=force)
    ctx.info(f"Created {plural(len(written), 'file')} in {target}:")
    for path in written:
        ctx.info(f"  {path.relative_to(target)}")
    step = "" if directory is None else f"cd {directory} && "
    ctx.info(f"Next: {step}acbatch validate --sandbox, then acbatch run --sandbox")
    if any(path.name == "podcast.yml" for path in written):
        ctx.info(
            f"The publishing workflow installs acbatch=={acbatch.__version__}; the comment above "
            "ACBATCH_SPEC there says how to install a reviewed commit from git instead."
        )
