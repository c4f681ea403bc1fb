"""One source per fact: a default, a name or a format declared twice where it can be derived fails.

The JSON Schemas own the defaults, acbatch/constants.py the names and formats every part agrees
on, acbatch/codes.py the API's codes. These tests read the code (its syntax tree), so a second
copy fails here even when both copies still agree.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes, constants
from acbatch.project.defaults import (
    DERIVED_FIELDS,
    SCHEMA_PLACES,
    api_defaults,
    build,
    schema_path,
    schema_property,
)
from acbatch.project.model import Publish
from acbatch.project.schema import (
    EPISODE,
    SHOW,
    field_default,
    fill_defaults,
    load_schema,
    resolve_ref,
)

PACKAGE = Path(__file__).resolve().parent.parent / "acbatch"

SANDBOX = "sandbox/"
"""The sandbox plays the API server: its limits are the server's, not acbatch.yaml's defaults."""

SAME_VALUE_OTHER_FACT = {
    ("runner/limits.py", "cap"): "the retry backoff's cap, not a polling interval",
    ("publish/feedcheck.py", "FETCH_MAX_BYTES"): "a feed's size limit, not a source file's",
    ("sources.py", "MAX_ARTICLE_HTML_CHARS"): "a web page's HTML, not the extracted text",
    ("publish/mastering.py", "CHUNK_SECONDS"): "audio decoded per step, not a polling interval",
}
"""(module, name) holding a number equal to a schema default that is a different fact."""

SAME_NAME_OTHER_FACT = {
    "HEADING": "the job summary's heading; a Markdown heading pattern",
    "ADVICE": "what to do after an outcome; after a write error",
    "CONTROL": "characters YAML refuses; characters removed from extracted text",
    "CHUNK": "a feed read's chunk; a download's chunk",
    "BLANK_LINES": "a paragraph break in notes; in extracted text",
    "FILE_PATH": "the sandbox's audio URL template; the pattern that serves it",
    "TYPE_WORDS": "JSON types in error messages; in the field reference",
    "ERROR": "a feed finding's severity; a publish target finding's",
    "WARNING": "a feed finding's severity; a publish target finding's",
    "MAX_SOURCE_BYTES": "a spec's source file; the sandbox's fetched page",
    "MAX_SOURCE_CHARS": "acbatch.yaml's default; how much the sandbox's writer reads",
}
"""Module-level names declared in two modules for two different facts (both named here)."""


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def value_of(node: ast.expr) -> Any:
    """The value of a constant expression (`50 * 1024 * 1024`), else None."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.LShift, ast.Add)):
            left, right = value_of(node.left), value_of(node.right)
            if isinstance(left, (int, float)) and isinstance(right, (int, float)):
                if isinstance(node.op, ast.Mult):
                    return left * right
                if isinstance(node.op, ast.Add):
                    return left + right
                return int(left) << int(right)
        return None


def schema_defaults() -> Iterator[tuple[str, Any]]:
    """(where, default) for every default in the schemas."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            if "default" in node:
                yield where, node["default"]
            for key, sub in node.items():
                yield from walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                yield from walk(sub, f"{where}/{index}")

    for kind in (SHOW, EPISODE):
        yield from walk(load_schema(kind), kind)


def distinctive_numbers() -> dict[float, str]:
    """Numeric schema defaults too particular to be a coincidence (not 0, 2, 4, 8...)."""
    return {
        value: where
        for where, value in schema_defaults()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 10
    }


def default_positions(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) of every place a module states a default or a constant: parameter
    defaults, class and module assignments, and `timeout=` arguments."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            if args.defaults:
                for arg, default in zip(
                    positional[-len(args.defaults) :], args.defaults, strict=True
                ):
                    yield arg.arg, default
            for arg, maybe in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                if maybe is not None:
                    yield arg.arg, maybe
        elif isinstance(node, (ast.Module, ast.ClassDef)):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
                    yield statement.targets[0].id, statement.value
                elif (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and statement.value is not None
                ):
                    yield statement.target.id, statement.value
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and "timeout" in keyword.arg:
                    yield keyword.arg, keyword.value


def repeated_schema_numbers() -> list[str]:
    numbers = distinctive_numbers()
    found = []
    for module, tree in modules():
        if module.startswith(SANDBOX):
            continue
        for name, expression in default_positions(tree):
            if (module, name) in SAME_VALUE_OTHER_FACT:
                continue
            for part in ast.walk(expression):
                value = value_of(part) if isinstance(part, ast.expr) else None
                if is_repeated(name, value, numbers):
                    line = getattr(part, "lineno", 0)
                    found.append(f"acbatch/{module}:{line}: {name} = {value} ({numbers[value]})")
                    break
    return found


# -- defaults: the schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("model", list(SCHEMA_PLACES), ids=lambda cls: cls.__name__)
def test_model_fields_leave_the_schemas_defaults_to_the_schemas(model: type) -> None:
    for item in dataclasses.fields(model):
        declared = schema_property(model, item.name)
        if item.name in DERIVED_FIELDS.get(model, ()):
            assert declared is None, f"{model.__name__}.{item.name} is in the schema after all"
            continue
        assert declared is not None, (
            f"{model.__name__}.{item.name} has no place in the schema: name it in SCHEMA_NAMES "
            "or DERIVED_FIELDS (acbatch/project/defaults.py)"
        )
        has_default = (
            item.default is not dataclasses.MISSING
            or item.default_factory is not dataclasses.MISSING
        )
        if "default" in declared or field_default(*schema_path(model, item.name)) is not None:
            assert not has_default, (
                f"{model.__name__}.{item.name} repeats the schema's default "
                f"{declared.get('default')!r}: leave it to the schema"
            )


def test_built_models_hold_the_schemas_defaults() -> None:
    filled = fill_defaults({}, SHOW)["api"]
    settings = api_defaults()
    assert settings.jobs == filled["jobs"] and settings.retries == filled["retries"]
    assert dataclasses.asdict(settings.timeouts) == filled["timeouts"]
    assert dataclasses.asdict(settings.polling) == filled["polling"]
    assert settings.max_answer_bytes == filled["max_answer_bytes"]
    publish = build(Publish, season=2)
    assert (publish.season, publish.draft) == (2, field_default(EPISODE, "publish", "draft"))
    assert publish.episode_type == field_default(EPISODE, "publish", "episode_type")


def test_no_code_repeats_a_schema_default() -> None:
    found = repeated_schema_numbers()
    assert not found, "schema defaults repeated in code (use acbatch.project.defaults):\n" + (
        "\n".join(found)
    )


def is_repeated(name: str, value: Any, numbers: dict[float, str]) -> bool:
    """Whether a number stated under `name` is a schema default: any float or byte count; a
    whole number of seconds only under a name about time (10 and 60 mean much else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in numbers:
        return False
    timed = re.search(r"timeout|seconds|interval|deadline|wait", name, re.I)
    return isinstance(value, float) or value >= 100_000 or bool(timed)


def test_a_repeated_default_is_found() -> None:
    """The check above can fail: a connect timeout written into a client is caught."""
    tree = ast.parse(
        "def connect(url, *, timeout: float = 10.0): ...\nLIMIT = 500 * 1024 * 1024\n"
        "fetch(url, timeout=(10, 60))\nTRIES = 10\n"
    )
    numbers = distinctive_numbers()
    found = [
        name
        for name, expression in default_positions(tree)
        if any(is_repeated(name, value_of(part), numbers) for part in ast.walk(expression))
    ]
    assert sorted(found) == ["LIMIT", "timeout", "timeout"]


# -- names and formats: constants.py and codes.py -----------------------------------------------


def module_constants(tree: ast.Module) -> Iterator[str]:
    for statement in tree.body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        for target in targets:
            if isinstance(target, ast.Name) and re.fullmatch(r"_?[A-Z][A-Z0-9_]+", target.id):
                yield target.id.lstrip("_")


def test_no_name_is_declared_in_two_modules() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for module, tree in modules():
        for name in module_constants(tree):
            where[name].append(module)
    twice = {
        name: places
        for name, places in where.items()
        if len(places) > 1 and name not in SAME_NAME_OTHER_FACT
    }
    assert not twice, f"declared in several modules (import it from one): {twice}"
    stale = [name for name in SAME_NAME_OTHER_FACT if len(where.get(name, ())) < 2]
    assert not stale, f"no longer declared twice; remove from SAME_NAME_OTHER_FACT: {stale}"


def shared_values() -> dict[Any, str]:
    """The values of constants.py and of codes.py's endpoints and response codes."""
    values: dict[Any, str] = {}
    for owner in (constants, codes):
        for name in dir(owner):
            value = getattr(owner, name)
            if not re.fullmatch(r"[A-Z][A-Z0-9_]+", name) or isinstance(value, bool):
                continue
            if owner is codes and not (
                (isinstance(value, str) and value.startswith(("/", "https://")))
                or (isinstance(value, int) and value >= 100000)
            ):
                continue  # codes.py's tables are checked by the names test
            if owner is constants and isinstance(value, int) and value < 1000:
                continue  # a small number (128) is written for other reasons everywhere
            if isinstance(value, (str, int, tuple)):
                values[value] = f"{owner.__name__}.{name}"
    return values


def repeated_values(tree: ast.Module, values: dict[Any, str]) -> Iterator[tuple[int, str]]:
    suffixes = set(constants.SOURCE_SUFFIXES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            if isinstance(node.value, (str, int)) and node.value in values:
                yield node.lineno, values[node.value]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [value_of(element) for element in node.elts]
            if len(items) < 2 or not all(isinstance(item, str) for item in items):
                continue
            if tuple(items) in values:
                yield node.lineno, values[tuple(items)]
            elif set(items) <= suffixes:
                yield node.lineno, "constants.SOURCE_SUFFIXES"


def test_names_formats_and_codes_are_written_once() -> None:
    values = shared_values()
    found = [
        f"acbatch/{module}:{line}: {owner}"
        for module, tree in modules()
        if module not in ("constants.py", "codes.py")
        for line, owner in repeated_values(tree, values)
    ]
    assert not found, "write these as the named constant:\n" + "\n".join(found)


def test_a_repeated_format_is_found() -> None:
    tree = ast.parse(
        'stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ")\nOK = (".pdf", ".docx")\n'
        'url = "/audio/api/v1/api-keys/podcast/audio/get"\nif code == 101003: pass'
    )
    assert sorted(owner for _line, owner in repeated_values(tree, shared_values())) == [
        "acbatch.codes.AUDIO_GET",
        "acbatch.codes.RATE_LIMITED",
        "acbatch.constants.TIMESTAMP_FORMAT",
        "constants.SOURCE_SUFFIXES",
    ]


def test_the_schema_accepts_exactly_the_source_suffixes() -> None:
    root = load_schema(EPISODE)
    source = resolve_ref(root, root["properties"]["source"])
    pattern = source["properties"]["file"]["pattern"]
    for suffix in constants.SOURCE_SUFFIXES:
        for written in (suffix, suffix.upper()):
            assert re.search(pattern, f"notes{written}"), written
    # Everything else any part of acbatch names as a file type, and near misses.
    others = {".text", ".htmlx", ".doc", ".rtf", ".odt", ".epub", ".xml", ".json", ".yaml", ".mp3"}
    for suffix in others - set(constants.SOURCE_SUFFIXES):
        assert not re.search(pattern, f"notes{suffix}"), suffix
