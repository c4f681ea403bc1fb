"""`acbatch voices`: list and filter the voice catalog; `acbatch voices import FILE` installs
the account's catalog downloaded from the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import click

from acbatch import codes
from acbatch.commands._common import echo_json, exit_codes_help, json_option, plural
from acbatch.context import Context
from acbatch.errors import UserError
from acbatch.voices import CatalogError, Voice, VoiceCatalog, import_catalog

GENDER_COLUMNS = ("female", "male")


def _catalog_path(ctx: Context) -> Path:
    """paths.voices of acbatch.yaml, else ./voices.json."""
    if ctx.config_path.exists():
        return ctx.load_project().config.paths.voices
    return ctx.root / "voices.json"


def voice_json(voice: Voice) -> dict[str, object]:
    """One voice in `voices --json`: what a spec names it by and what a script turn carries."""
    return {
        "id": voice.id,
        "name": voice.name,
        "display_name": voice.display_name,
        "language": voice.language,
        "gender": voice.gender_text or None,
        "age": voice.age,
        "age_text": voice.age_text or None,
        "tags": list(voice.tags),
        "emotion": list(voice.emotion),
        "voice_id": voice.step2_voice_id or None,
        "image": voice.image or None,
    }


@click.group(
    "voices",
    invoke_without_command=True,
    epilog=exit_codes_help("listed", "the catalog is missing or not a usable catalog"),
)
@click.option("--language", help="Only voices of this language (a code such as ja, or a name).")
@click.option("--gender", type=click.Choice(["male", "female"]), help="Only this gender.")
@click.option("--tag", help="Only voices with this tag.")
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Catalog file (default: paths.voices of acbatch.yaml, else ./voices.json).",
)
@json_option
@click.option(
    "--raw",
    is_flag=True,
    help="Print the matching voices as the catalog file holds them: the API's download "
    'envelope {"code": 100000, "data": {"total": N, "records": [...]}}.',
)
@click.pass_context
def command(
    click_ctx: click.Context,
    language: str | None,
    gender: str | None,
    tag: str | None,
    catalog_path: Path | None,
    as_json: bool,
    raw: bool,
) -> None:
    """List the voices a spec may name in `speakers:` or `overrides.voices`.

    The catalog is the API's documented voice-resource JSON, saved as voices.json. A new
    project's voices.json is the sandbox's demo catalog: it works offline only. For the real
    service, download your account's catalog from the audiocleaner.ai dashboard (Developer >
    Playground > "TAI Podcast Master") and install it with `acbatch voices import FILE`.

    \b
    Examples:
      acbatch voices --language en --gender female
      acbatch voices --json | jq -r '.voices[].name'
      acbatch voices --raw > voices-en.json      the API's own format
      acbatch voices import ~/Downloads/voices.json
    """
    if click_ctx.invoked_subcommand is not None:
        return
    if raw and as_json:
        raise click.UsageError("--raw and --json are two different outputs: give one")
    ctx: Context = click_ctx.obj
    if catalog_path is None:
        catalog_path = _catalog_path(ctx)
    try:
        catalog = VoiceCatalog.load(catalog_path)
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    if language in codes.language_values():
        language = codes.language_code(language)  # 'Japanese' and '日本語' mean ja here too
    voices = catalog.filter(language=language, gender=gender, tag=tag)
    if raw:
        matching = VoiceCatalog(voices, catalog.source, sandbox=catalog.sandbox)
        click.echo(json.dumps(matching.to_document(), indent=2, ensure_ascii=False))
        return
    if as_json:
        echo_json(
            "voices",
            {
                "catalog": str(catalog_path),
                "sandbox": catalog.sandbox,
                "catalog_total": len(catalog),
                "voices": [voice_json(v) for v in voices],
            },
            ok=True,
        )
        return
    click.echo(f"{'ID':>7}  {'NAME':<12}  {'LANG':<6}  {'GENDER':<7}  TAGS")
    for v in voices:
        click.echo(
            f"{v.id:>7}  {v.name:<12}  {v.language:<6}  {v.gender_text:<7}  {', '.join(v.tags)}"
        )
    click.echo(f"{len(voices)} of {plural(len(catalog), 'voice')}", err=True)
    if catalog.sandbox:
        click.echo(
            "note: this is the sandbox's demo catalog (offline only); "
            "`acbatch voices import FILE` installs your account's catalog",
            err=True,
        )


@command.command(
    "import", epilog=exit_codes_help("installed", "not a usable catalog (nothing is written)")
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_obj
def import_command(ctx: Context, file: Path, as_json: bool) -> None:
    """Check a catalog downloaded from the dashboard and install it as the show's voices.json.

    FILE is the JSON the audiocleaner.ai dashboard gives (Developer > Playground >
    "TAI Podcast Master"): {"code": 100000, "data": {"total": N, "records": [...]}}. It
    replaces the catalog at paths.voices of acbatch.yaml (default voices.json). Nothing is
    written when the file is not a usable catalog.

    \b
    Examples:
      acbatch voices import ~/Downloads/podcast-voices.json
      acbatch validate --live            then check the specs against it
    """
    destination = _catalog_path(ctx)
    try:
        checked = import_catalog(file, destination)
    except CatalogError as exc:
        raise UserError(f"{exc}; {destination.name} was not changed") from None
    counts = checked.counts()
    if as_json:
        echo_json(
            "voices-import",
            {
                "installed": str(destination),
                "voice_count": len(checked.catalog),
                "by_language": counts,
                "warnings": checked.warnings,
            },
            ok=True,
        )
        return
    for warning in checked.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{'LANG':<8} {'FEMALE':>7} {'MALE':>7} {'OTHER':>7} {'TOTAL':>7}")
    for language, row in counts.items():
        other = sum(n for g, n in row.items() if g not in GENDER_COLUMNS)
        click.echo(
            f"{language:<8} {row.get('female', 0):>7} {row.get('male', 0):>7} {other:>7} "
            f"{sum(row.values()):>7}"
        )
    click.echo(
        f"installed {plural(len(checked.catalog), 'voice')} in {destination}; "
        "check the specs against it with `acbatch validate --live`",
        err=True,
    )
