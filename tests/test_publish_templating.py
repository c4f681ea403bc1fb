"""Which show fields a template can read decides when the per-episode files are redone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from acbatch.publish.templating import Templates


def templates_with(folder: Path, **sources: str) -> Templates:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        (folder / name.replace("__", ".")).write_text(source, encoding="utf-8")
    return Templates(folder)


def test_builtin_notes_read_only_the_show_title() -> None:
    names = ["notes.html.j2", "notes.md.j2", "_style.css.j2"]
    assert Templates(None).fields_read(names, "show") == {"title"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{{ show.title }} {{ show['author'] }} {{ show.image.url }}",
            {"title", "author", "image"},
        ),
        ('{% include "part.j2" %}{{ show.title }}', {"title", "language"}),
        ("{{ episode.title }}", set()),
        ("{% for key in show %}{{ key }}{% endfor %}", None),
        ("{{ show|tojson }}", None),
        ("{% set show = 1 %}{{ show }}", None),
        ("{% macro m(show) %}{{ show.x }}{% endmacro %}", None),
        ("{{ show[name] }}", None),
        ("{% include name %}", None),
        ("{{ show.title ", None),
    ],
)
def test_fields_read(tmp_path: Path, source: str, expected: set[str] | None) -> None:
    templates = templates_with(tmp_path, notes__md__j2=source, part__j2="{{ show.language }}")
    assert templates.fields_read(["notes.md.j2"], "show") == expected


def test_shared_templates_follow_every_change_of_the_folder(tmp_path: Path) -> None:
    """One compiled set per process, until a file changes: even when its size and modification
    time do not (an edit within one clock tick)."""
    folder = tmp_path / "templates"
    templates_with(folder, notes__md__j2="A {{ show.title }}\n")
    first = Templates.shared(folder)
    assert Templates.shared(folder) is first
    assert first.render("notes.md.j2", show={"title": "x"}) == "A x\n"
    assert first.fields_read(["notes.md.j2"], "show") == {"title"}

    template = folder / "notes.md.j2"
    before = template.stat()
    template.write_text("B {{ show.names }}\n", encoding="utf-8")
    os.utime(template, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert template.stat().st_size == before.st_size
    changed = Templates.shared(folder)
    assert changed is not first
    assert changed.render("notes.md.j2", show={"names": "y"}) == "B y\n"
    assert changed.fields_read(["notes.md.j2"], "show") == {"names"}

    (folder / "feed_item.xml.j2").write_text("<item/>\n", encoding="utf-8")
    assert Templates.shared(folder) is not changed  # a new override


def test_shared_templates_never_read_through_a_link(tmp_path: Path) -> None:
    """Telling whether the folder changed never reads an endless device through a link."""
    folder = tmp_path / "templates"
    templates_with(folder, notes__md__j2="A {{ show.title }}\n")
    (folder / "endless.j2").symlink_to("/dev/zero")
    shared = Templates.shared(folder)
    assert Templates.shared(folder) is shared
    assert shared.render("notes.md.j2", show={"title": "x"}) == "A x\n"
