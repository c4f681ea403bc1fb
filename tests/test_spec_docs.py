"""docs/spec-reference.md is generated from the schemas and must stay in step with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acbatch.project import docs
from acbatch.project.schema import EPISODE, SHOW, load_schema, resolve_ref

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "docs" / "spec-reference.md"


def field_names(schema: dict[str, Any], root: dict[str, Any], prefix: str = "") -> list[str]:
    schema = resolve_ref(root, schema)
    names = []
    for name, sub in schema.get("properties", {}).items():
        if name == "$schema":
            continue
        full = f"{prefix}{name}"
        names.append(full)
        sub = resolve_ref(root, sub)
        if "propertyNames" in sub and "enum" in sub["propertyNames"]:
            continue
        names += field_names(sub, root, f"{full}.")
        items = sub.get("items")
        if isinstance(items, dict):
            names += field_names(items, root, f"{full}[].")
    return names


def test_committed_reference_matches_the_generator() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == docs.generate_reference(), (
        "docs/spec-reference.md is stale: run `python -m acbatch.project.docs`"
    )


def test_every_field_and_enum_value_is_documented() -> None:
    text = docs.generate_reference()
    for name in (EPISODE, SHOW):
        schema = load_schema(name)
        for field in field_names(schema, schema):
            assert f"| `{field}` |" in text, field
    for style in load_schema(EPISODE)["$defs"]["style"]["anyOf"][0]["enum"]:
        assert f"`{style}`" in text
    assert "`educational`" in text and "`10-15min`" in text and "`zh_yue`" in text


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("# old\n")
    assert docs.main([str(stale), "--check"]) == 1
    assert docs.main([str(stale)]) == 0
    assert docs.main([str(stale), "--check"]) == 0
    assert stale.read_text() == docs.generate_reference()
