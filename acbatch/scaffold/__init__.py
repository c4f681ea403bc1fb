"""A new project's files: the commented config, example specs, schemas, voices and .gitignore.

The template files live in acbatch/scaffold/files/ (shipped in the wheel as package data).
Everything is planned first and checked for conflicts, then written, so a refused `init`
leaves nothing behind.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import acbatch
from acbatch.constants import CONFIG_NAME
from acbatch.errors import UserError
from acbatch.project.schema import schema_path

FILES_DIR = Path(__file__).parent / "files"
RENAMED = {"gitignore": ".gitignore"}
"""Template names that differ from the written names (a real .gitignore here would apply to
the package's own folder)."""
SCHEMAS = ("show", "episode", "script")
WORKFLOW = Path(acbatch.__file__).parent / "workflows" / "podcast.yml"
VERSION_MARK = "@ACBATCH_VERSION@"
"""Where the shipped workflow names the acbatch version; `init` writes its own version there."""
COVER_COLOUR = (34, 87, 122)
COVER_TEXT_COLOUR = (255, 255, 255)
COVER_PX = 1400


@dataclass(frozen=True)
class PlannedFile:
    relative: Path
    content: bytes


def plan_scaffold() -> list[PlannedFile]:
    """Every file `acbatch init` writes, relative to the project folder, in writing order."""
    planned = []
    for source in sorted(FILES_DIR.rglob("*")):
        if not source.is_file() or source.name.startswith(".") or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(FILES_DIR)
        relative = relative.with_name(RENAMED.get(relative.name, relative.name))
        content = source.read_bytes()
        if relative == Path("templates") / "README.md":
            content += _builtin_templates_note().encode("utf-8")
        planned.append(PlannedFile(relative, content))
    for name in SCHEMAS:
        source = schema_path(name)
        planned.append(PlannedFile(Path("schemas") / source.name, source.read_bytes()))
    planned.append(PlannedFile(Path("voices.json"), _voices_document()))
    planned.append(PlannedFile(Path("cover.png"), _cover_art()))
    planned.append(PlannedFile(Path(".github") / "workflows" / "podcast.yml", workflow_bytes()))
    return planned


def workflow_bytes(version: str = acbatch.__version__) -> bytes:
    """The publishing workflow, pinned to `version` (by default the running acbatch)."""
    return WORKFLOW.read_text(encoding="utf-8").replace(VERSION_MARK, version).encode("utf-8")


def scaffold_project(target: Path, force: bool = False) -> list[Path]:
    """Write a new project into `target` (created if needed); returns the written paths.

    Raises UserError, writing nothing, when a file already exists and `force` is false.
    """
    if target.exists() and not target.is_dir():
        raise UserError(f"{target} exists and is not a folder")
    planned = plan_scaffold()
    existing = [item.relative for item in planned if (target / item.relative).exists()]
    if existing and not force:
        shown = ", ".join(str(path) for path in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise UserError(
            f"{target} already has {shown}{more}; nothing was written "
            "(use --force to overwrite these files)"
        )
    for item in planned:
        if (target / item.relative).is_dir():
            raise UserError(f"{target / item.relative} is a folder; nothing was written")
    written = []
    for item in planned:
        destination = target / item.relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(item.content)
        written.append(destination)
    return written


def _cover_art() -> bytes:
    """Placeholder show artwork made from the scaffold's show title; replace it with your own."""
    import yaml

    config = yaml.safe_load((FILES_DIR / CONFIG_NAME).read_text(encoding="utf-8"))
    return placeholder_cover(str(config["show"]["title"]))


def placeholder_cover(title: str, size: int = COVER_PX) -> bytes:
    """A square RGB PNG Apple accepts: the title in large type on a plain background.

    Pillow's bundled font has Latin, Greek and Cyrillic letters; other scripts come out as
    boxes, so a show in another script should bring its own artwork (a placeholder anyway).
    """
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (size, size), COVER_COLOUR)
    draw = ImageDraw.Draw(image)
    margin = size // 10
    width = size - 2 * margin
    # The largest type size at which the title wraps into at most three lines.
    words = title.split() or ["Podcast"]
    for points in range(size // 6, size // 40, -size // 140):
        font = ImageFont.load_default(size=points)
        lines = _wrap(words, font, width)
        if len(lines) <= 3 and all(font.getlength(line) <= width for line in lines):
            break
    line_height = int(points * 1.2)
    top = (size - line_height * len(lines)) // 2
    for index, line in enumerate(lines):
        draw.text(
            (size // 2, top + index * line_height + line_height // 2),
            line,
            font=font,
            fill=COVER_TEXT_COLOUR,
            anchor="mm",
        )
    band = size // 60
    draw.rectangle((margin, size - margin - band, size - margin, size - margin), COVER_TEXT_COLOUR)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _wrap(words: list[str], font: Any, width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _voices_document() -> bytes:
    from acbatch.sandbox.catalog import sandbox_catalog

    document = sandbox_catalog().to_document()
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _builtin_templates_note() -> str:
    builtin = Path(acbatch.__file__).parent / "templates"
    names = sorted(
        path.name for path in builtin.glob("*") if path.is_file() and not path.name.startswith(".")
    )
    if not names:
        return ""
    listed = "\n".join(f"- `{name}`" for name in names)
    return f"\nBuilt-in templates in this version of acbatch:\n\n{listed}\n"
