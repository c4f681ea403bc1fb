"""The built-in templates, and copies of them in a show's templates/ folder.

`acbatch templates list` and `acbatch templates copy NAME` are built on these. A copy starts
with a Jinja comment naming the acbatch version it came from; the comment renders as nothing
(it also swallows the line break after it), so an unedited copy renders exactly like the
built-in template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import acbatch
from acbatch.errors import UserError
from acbatch.project.model import display_path
from acbatch.project.suggest import did_you_mean
from acbatch.publish.templating import BUILTIN_FOLDER
from acbatch.store import atomic_write_text

BUILTIN_DIR = Path(acbatch.__file__).resolve().parent / BUILTIN_FOLDER
_HEADER = re.compile(r"\A\{#- Copied from acbatch (\S+)'s built-in template (\S+)[^\n]*-#\}\n")


@dataclass(frozen=True)
class TemplateStatus:
    name: str
    override: Path | None
    """The show's file that replaces the built-in template, if any."""
    copied_from: str | None
    """The acbatch version a copy came from (None: not made by `acbatch templates copy`)."""
    edited: bool
    """Whether the override differs from the built-in template of this version."""


def builtin_names() -> list[str]:
    """The built-in templates' file names, sorted."""
    return sorted(
        path.name
        for path in BUILTIN_DIR.iterdir()
        if path.is_file() and not path.name.startswith(".")
    )


def header(name: str) -> str:
    return (
        f"{{#- Copied from acbatch {acbatch.__version__}'s built-in template {name} by "
        "`acbatch templates copy`. This file replaces the built-in one for this show; delete "
        "it to go back. -#}\n"
    )


def builtin_name(name: str) -> str:
    """The built-in template NAME stands for (`feed.xml` is `feed.xml.j2`); UserError if none."""
    names = builtin_names()
    for candidate in (name, f"{name}.j2"):
        if candidate in names:
            return candidate
    hint = did_you_mean(name, names) or did_you_mean(f"{name}.j2", names)
    suggestion = f" (did you mean '{hint}'?)" if hint else ""
    raise UserError(
        f"no built-in template '{name}'{suggestion}; `acbatch templates list` shows them", 2
    )


def without_copy_header(text: str) -> str:
    """A template's text without the header `acbatch templates copy` wrote (it renders as
    nothing, so an unedited copy counts as the built-in template)."""
    match = _HEADER.match(text)
    return text[match.end() :] if match else text


def template_statuses(templates_dir: Path) -> list[TemplateStatus]:
    """Each built-in template and what the show's templates/ folder does with it."""
    statuses = []
    for name in builtin_names():
        override = templates_dir / name
        if not override.is_file():
            statuses.append(TemplateStatus(name, None, None, False))
            continue
        text = override.read_text(encoding="utf-8", errors="replace")
        match = _HEADER.match(text)
        body = without_copy_header(text)
        builtin = (BUILTIN_DIR / name).read_text(encoding="utf-8")
        statuses.append(
            TemplateStatus(name, override, match.group(1) if match else None, body != builtin)
        )
    return statuses


def copy_template(name: str, templates_dir: Path, force: bool = False) -> Path:
    """Write the built-in template into `templates_dir` with a header; returns the new file.

    Refuses (UserError, nothing written) to replace an existing file unless `force`.
    """
    name = builtin_name(name)
    target = templates_dir / name
    if target.exists() and not force:
        raise UserError(
            f"{display_path(target)} already exists; nothing was written (use --force to "
            "replace it with the built-in template)"
        )
    if target.is_dir():
        raise UserError(f"{display_path(target)} is a folder; nothing was written")
    templates_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, header(name) + (BUILTIN_DIR / name).read_text(encoding="utf-8"))
    return target
