"""`acbatch voices`: list and filter the voice catalog (voices.json)."""

from __future__ import annotations

from pathlib import Path

import click

from acbatch.commands._common import echo_json, json_option
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.voices import CatalogError, VoiceCatalog


@click.command("voices")
@click.option("--language", help="Only voices of this language code (en, ja, zh_yue...).")
@click.option("--gender", type=click.Choice(["male", "female"]), help="Only this gender.")
@click.option("--tag", help="Only voices with this tag.")
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Catalog file (default: paths.voices of acbatch.yaml, else ./voices.json).",
)
@json_option
@click.pass_obj
def command(
    ctx: Context,
    language: str | None,
    gender: str | None,
    tag: str | None,
    catalog_path: Path | None,
    as_json: bool,
) -> None:
    """List the voices a spec may name in `speakers:` or `overrides.voices`.

    The catalog is the API's documented voice-resource JSON, saved as voices.json.

    \b
    Examples:
      acbatch voices --language en --gender female
      acbatch voices --json
    """
    if catalog_path is None:
        catalog_path = ctx.root / "voices.json"
        if ctx.config_path.exists():
            project = ctx.load_project()
            catalog_path = project.config.paths.voices
    try:
        catalog = VoiceCatalog.load(catalog_path)
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    voices = catalog.filter(language=language, gender=gender, tag=tag)
    if as_json:
        echo_json(
            {
                "code": 100000,
                "data": {"total": len(voices), "records": [v.to_record() for v in voices]},
                "message": "Request Success",
            }
        )
        return
    click.echo(f"{'ID':>7}  {'NAME':<12}  {'LANG':<6}  {'GENDER':<7}  TAGS")
    for v in voices:
        click.echo(
            f"{v.id:>7}  {v.name:<12}  {v.language:<6}  {v.gender_text:<7}  {', '.join(v.tags)}"
        )
    click.echo(f"{len(voices)} of {len(catalog)} voices", err=True)
