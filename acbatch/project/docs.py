"""The Markdown field reference, generated from the two JSON Schemas.

    python -m acbatch.project.docs            # rewrite docs/spec-reference.md
    python -m acbatch.project.docs --check    # exit 1 if the committed file is out of date

The schemas are the single source of truth; a test keeps docs/spec-reference.md equal to
this module's output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from acbatch.project.schema import EPISODE, SHOW, defaults_fields, load_schema, resolve_ref

DEFAULT_OUTPUT = Path("docs") / "spec-reference.md"

_TYPE_WORDS = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


def generate_reference() -> str:
    """The whole reference page as Markdown."""
    episode = load_schema(EPISODE)
    show = load_schema(SHOW)
    lines = [
        "# Spec reference",
        "",
        "<!-- Generated from schemas/*.schema.json by `python -m acbatch.project.docs`;"
        " do not edit. -->",
        "",
        "Every field acbatch reads, generated from the JSON Schemas in `schemas/` (which editors",
        "can use for completion: each YAML file starts with a `# yaml-language-server: $schema=`",
        "line). Nested fields are written with dots; `[]` marks the items of a list.",
        "",
        "## Episode spec: `specs/<id>.yaml`",
        "",
        _escape_text(episode.get("description", "")),
        "",
        "Fields marked *required* must be set in the spec; `style`, `duration`, `language` and",
        "`speakers` must be set in the spec or under `defaults:` in acbatch.yaml.",
        "",
        *_table(episode, episode),
        "",
        "## Show config: `acbatch.yaml`",
        "",
        _escape_text(show.get("description", "")),
        "",
        *_table(show, show),
        "",
        "### `defaults:`",
        "",
        "Any of these episode fields, deep-merged under every spec (mappings merge;",
        "lists and single values in the spec replace the default): "
        + ", ".join(f"`{name}`" for name in defaults_fields())
        + ".",
        "",
    ]
    return "\n".join(lines)


def _table(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    rows = [
        "| Field | Type | Allowed values | Default | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, sub, required in _fields(schema, root, ""):
        rows.append(_row(name, sub, required, root))
    return rows


def _fields(
    schema: dict[str, Any], root: dict[str, Any], prefix: str
) -> list[tuple[str, dict[str, Any], bool]]:
    schema = resolve_ref(root, schema)
    required = set(schema.get("required", ()))
    found: list[tuple[str, dict[str, Any], bool]] = []
    for name, sub in schema.get("properties", {}).items():
        if name == "$schema":
            continue
        full = f"{prefix}{name}"
        sub = resolve_ref(root, sub)
        found.append((full, sub, name in required))
        found += _children(sub, root, full)
    return found


def _children(
    sub: dict[str, Any], root: dict[str, Any], full: str
) -> list[tuple[str, dict[str, Any], bool]]:
    if "propertyNames" in sub and "enum" in sub["propertyNames"]:
        return []  # `defaults:` is described in its own section
    found = []
    if "properties" in sub:
        found += _fields(sub, root, f"{full}.")
    extra = sub.get("additionalProperties")
    if isinstance(extra, dict):
        key = f"{full}.<{_key_name(sub)}>"
        found.append((key, resolve_ref(root, extra), False))
    items = sub.get("items")
    if isinstance(items, dict):
        items = resolve_ref(root, items)
        if "properties" in items:
            found += _fields(items, root, f"{full}[].")
    return found


def _key_name(schema: dict[str, Any]) -> str:
    return "role" if "propertyNames" in schema else "name"


def _row(name: str, schema: dict[str, Any], required: bool, root: dict[str, Any]) -> str:
    description = schema.get("description", "")
    if required:
        description = f"*Required.* {description}".strip()
    default = (
        f"`{json.dumps(schema['default'], ensure_ascii=False)}`" if "default" in schema else ""
    )
    cells = [
        f"`{name}`",
        _type_of(schema, root),
        _allowed(schema, root),
        default,
        _escape_text(description),
    ]
    return "| " + " | ".join(cells) + " |"


def _type_of(schema: dict[str, Any], root: dict[str, Any]) -> str:
    schema = resolve_ref(root, schema)
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_type_of(branch, root) for branch in schema["anyOf"]))
    if "enum" in schema and "type" not in schema:
        kinds = {_json_type(value) for value in schema["enum"]}
        return " or ".join(sorted(_TYPE_WORDS[k] for k in kinds))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kind)
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            inner = resolve_ref(root, items)
            word = "mappings" if inner.get("type") == "object" else f"{_type_of(inner, root)}"
            return f"list of {word}"
        return "list"
    return _TYPE_WORDS.get(str(kind), "any")


def _allowed(schema: dict[str, Any], root: dict[str, Any]) -> str:
    schema = resolve_ref(root, schema)
    parts: list[str] = []
    if "anyOf" in schema:
        parts += [_allowed(branch, root) for branch in schema["anyOf"]]
        return "; ".join(p for p in parts if p)
    if "enum" in schema:
        parts.append(", ".join(f"`{value}`" for value in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        parts.append(f"> {schema['exclusiveMinimum']}")
    if low is not None and high is not None:
        parts.append(f"{low} to {high}")
    elif low is not None:
        parts.append(f">= {low}")
    elif high is not None:
        parts.append(f"<= {high}")
    if low is None and high is not None and "exclusiveMinimum" in schema:
        parts = [f"> {schema['exclusiveMinimum']}, <= {high}"]
    lengths = _range(schema.get("minLength"), schema.get("maxLength"), "characters")
    if lengths:
        parts.append(lengths)
    items = _range(schema.get("minItems"), schema.get("maxItems"), "items")
    if items:
        parts.append(items)
    if schema.get("minProperties") == 1 and schema.get("maxProperties") == 1:
        parts.append("exactly one of " + ", ".join(f"`{k}`" for k in schema.get("properties", {})))
    if "pattern" in schema:
        parts.append(f"pattern `{_escape_code(schema['pattern'])}`")
    if "propertyNames" in schema and "pattern" in schema["propertyNames"]:
        parts.append(f"keys match `{_escape_code(schema['propertyNames']['pattern'])}`")
    return "; ".join(parts)


def _range(low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{low} to {high} {unit}"
    if low is not None:
        return "not empty" if low == 1 else f"at least {low} {unit}"
    if high is not None:
        return f"at most {high} {unit}"
    return ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else "object"


def _escape_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _escape_code(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the spec field reference.")
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = generate_reference()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(
                f"{args.output} is out of date: run python -m acbatch.project.docs", file=sys.stderr
            )
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
