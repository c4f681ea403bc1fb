"""Which show fields a template can read decides when the per-episode files are redone."""

from __future__ import annotations

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
