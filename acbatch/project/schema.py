"""The JSON Schemas, fast validation, and schema errors turned into messages people can act on.

schemas/*.schema.json are the single source of truth for the spec language. Each schema is
used two ways:

* a small compiled checker (closures built once from the schema) answers "is this valid?"
  about thirty times faster than jsonschema; it is conservative: it may call a valid document
  invalid, never the reverse;
* when the checker says no, jsonschema's Draft202012Validator (built once, cached) finds every
  error, and each error becomes a Problem with file:line:column, a dotted field path and a
  plain-language message.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import acbatch
from acbatch.codes import LANGUAGES
from acbatch.constants import SOURCE_SUFFIXES
from acbatch.project.model import Problem
from acbatch.project.suggest import did_you_mean
from acbatch.project.yamlsafe import PathKey, YamlDocument, shorten

if TYPE_CHECKING:
    # Imported where used: a valid project never needs jsonschema, which is slow to import.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

EPISODE = "episode"
SHOW = "show"
DEFAULTS = "defaults"
"""The `defaults:` mapping of acbatch.yaml: episode fields, none required."""
SCRIPT = "script"
"""A script for review, specs/<id>.script.yaml."""

SECRET_KEY_NAMES = frozenset(
    {
        "key",
        "apikey",
        "api-key",
        "api_key",
        "secret",
        "token",
        "password",
        "api_token",
        "api-token",
        "access_token",
        "auth",
        "authorization",
        "bearer",
    }
)
SECRET_MESSAGE = (
    "unknown field '{key}': never write an API key in project files; acbatch reads it only "
    "from the AUDIOCLEANER_API_KEY environment variable"
)

PATTERN_MESSAGES: dict[str, str] = {
    "^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$": (
        "'{value}' is not a valid id: use 1-80 lowercase letters, digits and hyphens, "
        "starting and ending with a letter or digit"
    ),
    "^[hH][tT][tT][pP][sS]?://[^\\s/$.?#][^\\s]*$": "'{value}' is not an http:// or https:// URL",
    "^https?://": "'{value}' is not an http:// or https:// URL",
    r"\.([mM][pP]3|[wW][aA][vV])$": "'{value}' is not an MP3 or WAV file: use .mp3 or .wav",
    "^https?://[^\\s]+$": "'{value}' is not an http:// or https:// URL",
    (
        r"\.([tT][xX][tT]|[mM][dD]|[mM][aA][rR][kK][dD][oO][wW][nN]|[hH][tT][mM][lL]?"
        r"|[pP][dD][fF]|[dD][oO][cC][xX])$"
    ): (
        "'{value}' is not a supported file type: use "
        + ", ".join(SOURCE_SUFFIXES[:-1])
        + f" or {SOURCE_SUFFIXES[-1]}"
    ),
    "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$": (
        "'{value}' is not an ISO 8601 date or date-time such as 2026-11-01 or 2026-11-01T09:00:00Z"
    ),
    "^[A-Za-z0-9_-]{1,40}$": (
        "'{value}' is not a valid role name: use 1-40 letters, digits, '_' or '-'"
    ),
    "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$": "'{value}' is not an email address",
    "^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$": (
        "'{value}' is not a license identifier such as cc-by-4.0: use up to 128 letters, "
        "digits, '.', '_', '+' or '-', starting with a letter or digit"
    ),
    "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": "'{value}' is not a language tag such as en or en-US",
    "^[0-9a-fA-F-]{36}$": ("'{value}' is not a UUID such as 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"),
    "^[A-Za-z0-9_][A-Za-z0-9._-]*$": (
        "'{value}' is not a git remote name such as origin: use letters, digits, '.', '_' or '-', "
        "not starting with '-' or '.'"
    ),
    "^[A-Za-z0-9_][A-Za-z0-9._/-]*$": (
        "'{value}' is not a git branch name such as acbatch-state: use letters, digits, '.', '_', "
        "'/' or '-', not starting with '-', '.' or '/'"
    ),
}
"""A message for every `pattern` in the schemas (a test keeps this table complete)."""

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}
_YAML_BOOL_WORDS = frozenset(
    w for base in ("yes", "no", "on", "off") for w in (base, base.title(), base.upper())
)


# --- locating and loading the schemas ---------------------------------------------------------


def schema_dir() -> Path:
    """The installed copy (the wheel ships them inside the package), else the repository's."""
    packaged = Path(acbatch.__file__).parent / "schemas"
    if (packaged / "episode.schema.json").is_file():
        return packaged
    return Path(acbatch.__file__).resolve().parent.parent / "schemas"


def schema_path(name: str) -> Path:
    return schema_dir() / f"{name}.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema as published: 'episode' or 'show' (cached; treat it as read-only).

    A rule the show schema shares with the episode schema is written once, in the episode
    schema's `$defs`, and referenced as `episode.schema.json#/$defs/NAME` (editors resolve it
    beside the file); here such references become local ones, with the episode schema's
    `$defs` copied in, so that every reader of the schema sees one self-contained document.
    """
    with open(schema_path(name), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    if name != EPISODE and _inline_episode_refs(schema):
        episode_defs = load_schema(EPISODE)["$defs"]
        schema["$defs"] = {**copy.deepcopy(episode_defs), **schema.get("$defs", {})}
    return schema


_EPISODE_REF = "episode.schema.json#/"


def _inline_episode_refs(node: Any) -> bool:
    """Turn `episode.schema.json#/...` references in `node` into local ones; True if any."""
    found = False
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_EPISODE_REF):
            node["$ref"] = "#/" + ref[len(_EPISODE_REF) :]
            found = True
        for value in node.values():
            found = _inline_episode_refs(value) or found
    elif isinstance(node, list):
        for value in node:
            found = _inline_episode_refs(value) or found
    return found


def defaults_fields() -> list[str]:
    """Episode fields acbatch.yaml's `defaults:` may set (from the show schema)."""
    names = load_schema(SHOW)["properties"]["defaults"]["propertyNames"]["enum"]
    return list(names)


@cache
def _effective_schema(kind: str) -> dict[str, Any]:
    """The schema each kind of document is validated against.

    `show` leaves `defaults:` to the `defaults` kind, which is the episode schema with nothing
    required and only the fields a default may set, so its errors name the real field rules.
    """
    if kind in (EPISODE, SCRIPT):
        return load_schema(kind)
    if kind == SHOW:
        show = copy.deepcopy(load_schema(SHOW))
        show["properties"]["defaults"] = {"type": "object"}
        return show
    if kind == DEFAULTS:
        episode = load_schema(EPISODE)
        allowed = defaults_fields()
        return {
            "$schema": episode["$schema"],
            "type": "object",
            "additionalProperties": False,
            "properties": {k: v for k, v in episode["properties"].items() if k in allowed},
            "$defs": episode["$defs"],
        }
    raise ValueError(f"unknown schema kind {kind!r}")


@cache
def validator(kind: str) -> Draft202012Validator:
    """jsonschema's validator for 'episode', 'show' or 'defaults' (built once)."""
    from jsonschema import Draft202012Validator

    schema = _effective_schema(kind)
    return Draft202012Validator(schema)


@cache
def fast_checker(kind: str) -> Callable[[Any], bool] | None:
    """The compiled checker, or None when the schema uses a keyword it does not know."""
    schema = _effective_schema(kind)
    try:
        return _compile(schema, schema, {})
    except _Unsupported:
        return None


def is_valid(kind: str, data: Any) -> bool:
    checker = fast_checker(kind)
    if checker is not None and checker(data):
        return True
    return validator(kind).is_valid(data)


def resolve_ref(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s ('#/$defs/x') until a schema without one."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        target = _pointer(root, schema["$ref"])
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **extra} if extra else target
        seen += 1
    return schema


def _pointer(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise _Unsupported(f"$ref {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def fill_defaults(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of valid `data` with the schema's `default`s filled in for absent fields.

    Absent objects whose fields have defaults are created, so `api: {}` gains
    `timeouts: {connect: 10, read: 60}`. Lists are not entered.
    """
    root = _effective_schema(kind)
    return _fill(data, root, root)


@cache
def field_default(kind: str, *path: str) -> Any:
    """The schema's `default` for a field, e.g. field_default('episode', 'publish', 'draft').

    Returns None when the schema gives none. Callers must not mutate the result.
    """
    root = _effective_schema(kind)
    node: dict[str, Any] = root
    for name in path:
        node = resolve_ref(root, node).get("properties", {}).get(name, {})
    return resolve_ref(root, node).get("default")


def _fill(data: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    schema = resolve_ref(root, schema)
    result = dict(data)
    for name, sub in schema.get("properties", {}).items():
        sub = resolve_ref(root, sub)
        if name in result:
            if isinstance(result[name], dict) and "properties" in sub:
                result[name] = _fill(result[name], sub, root)
        elif "default" in sub:
            result[name] = copy.deepcopy(sub["default"])
        elif sub.get("type") == "object" and _has_defaults(sub, root):
            result[name] = _fill({}, sub, root)
    return result


def _has_defaults(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    for sub in schema.get("properties", {}).values():
        sub = resolve_ref(root, sub)
        if "default" in sub or (sub.get("type") == "object" and _has_defaults(sub, root)):
            return True
    return False


# --- validation with positions ----------------------------------------------------------------


def format_field(path: Iterable[str | int]) -> str:
    """('speakers', 1) -> 'speakers[1]'; ('publish', 'date') -> 'publish.date'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = shorten(str(part))
            text += f".{name}" if text else name
    return text


def validate_document(
    kind: str,
    document: YamlDocument,
    data: Any = None,
    base: PathKey = (),
    file: Path | None = None,
) -> list[Problem]:
    """Every schema problem in `data` (default: the whole document), with positions.

    `base` is where `data` sits inside the document (('defaults',) for acbatch.yaml's
    defaults); field paths and positions include it.
    """
    if data is None and not base:
        data = document.data
    checker = fast_checker(kind)
    if checker is not None and checker(data):
        return []
    translator = _Translator(kind, document, base, file or document.file or Path("<unknown>"))
    problems: list[Problem] = []
    for error in validator(kind).iter_errors(data):
        problems.extend(translator.translate(error))
    return list(dict.fromkeys(problems))


class _Translator:
    def __init__(self, kind: str, document: YamlDocument, base: PathKey, file: Path) -> None:
        self.kind = kind
        self.document = document
        self.base = base
        self.file = file
        self.root = _effective_schema(kind)

    def problem(
        self,
        path: PathKey,
        message: str,
        suggestion: str | None = None,
        at_key: bool = False,
        located_at: PathKey | None = None,
    ) -> Problem:
        """A problem about the field at `path`, shown where `located_at` (default: it) is."""
        full = (*self.base, *path)
        place = full if located_at is None else (*self.base, *located_at)
        where = self.document.key_position(place) if at_key else self.document.value_position(place)
        return Problem(self.file, where[0], where[1], format_field(full), message, suggestion)

    def translate(self, error: ValidationError) -> list[Problem]:
        path: PathKey = tuple(error.absolute_path)
        keyword = error.validator
        value = error.validator_value
        instance = error.instance
        schema = error.schema if isinstance(error.schema, dict) else {}
        if "propertyNames" in error.relative_schema_path:
            key = str(instance)
            message = self.message_for(error, keyword, value, instance, (*path, key), schema)
            return [self.problem((*path, key), f"invalid key: {message}", at_key=True)]
        if keyword == "additionalProperties" and isinstance(instance, dict):
            return self.unknown_keys(path, instance, schema)
        if keyword == "required" and isinstance(instance, dict):
            missing = [name for name in value if name not in instance]
            # A misspelt key is reported as unknown, with the right name as its suggestion;
            # saying the right name is also missing would only repeat it.
            known = resolve_ref(self.root, schema).get("properties", {})
            misspelt = {did_you_mean(key, known) for key in instance if key not in known}
            missing = [name for name in missing if name not in misspelt]
            return [
                self.problem((*path, name), f"missing required field '{name}'", located_at=path)
                for name in missing
            ]
        if keyword in ("anyOf", "oneOf") and error.context:
            chosen = self.pick_alternative(error)
            if chosen is not None:
                return self.translate(chosen)
            expected = " or ".join(self.describe(branch) for branch in value)
            return [self.problem(path, f"expected {expected}, found {_found(instance)}")]
        if keyword == "maxProperties" and isinstance(instance, dict):
            keys = list(instance)
            extra = keys[value] if len(keys) > value else keys[-1]
            name = str(path[-1]) if path else "key"
            listed = _and_list(keys)
            if value == 1:
                message = f"exactly one {name} is allowed, found {listed}"
            else:
                message = f"at most {value} fields are allowed here, found {listed}"
            return [self.problem((*path, extra), message, at_key=True)]
        if keyword == "minProperties" and isinstance(instance, dict):
            choices = list(resolve_ref(self.root, schema).get("properties", {}))
            name = str(path[-1]) if path else "mapping"
            if choices and value == 1:
                message = f"{name} is empty: give one of {_or_list(choices)}"
            else:
                message = f"needs at least {value} field{'s' if value != 1 else ''}"
            return [self.problem(path, message)]
        message = self.message_for(error, keyword, value, instance, path, schema)
        suggestion = None
        if keyword == "enum" and isinstance(instance, str):
            suggestion = did_you_mean(instance, value) or _language_code(instance, value)
        return [self.problem(path, message, suggestion)]

    def unknown_keys(
        self, path: PathKey, instance: dict[str, Any], schema: dict[str, Any]
    ) -> list[Problem]:
        known = schema.get("properties", {})
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        problems = []
        for key in instance:
            if key in known or any(p.search(key) for p in patterns):
                continue
            if key.strip().lower() in SECRET_KEY_NAMES:
                message = SECRET_MESSAGE.format(key=key)
                problems.append(self.problem((*path, key), message, at_key=True))
                continue
            if self.kind == DEFAULTS and not path and key in load_schema(EPISODE)["properties"]:
                message = f"'{key}' cannot have a default: set it in each spec"
                problems.append(self.problem((*path, key), message, at_key=True))
                continue
            suggestion = did_you_mean(key, known)
            message = f"unknown field '{shorten(key)}'"
            problems.append(self.problem((*path, key), message, suggestion, at_key=True))
        return problems

    def pick_alternative(self, error: ValidationError) -> ValidationError | None:
        """The sub-error of the alternative the value was probably meant for, if any."""
        here = list(error.absolute_path)
        by_branch: dict[Any, list[ValidationError]] = {}
        for sub in error.context or ():
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [
            sub
            for subs in by_branch.values()
            if not any(list(s.absolute_path) == here and _type_mismatch(s) for s in subs)
            for sub in subs
        ]
        if not fitting:
            return None
        from jsonschema.exceptions import best_match

        return best_match(fitting)

    def describe(self, branch: dict[str, Any]) -> str:
        branch = resolve_ref(self.root, branch)
        if "enum" in branch:
            return "one of " + ", ".join(str(v) for v in branch["enum"])
        kinds = branch.get("type")
        if isinstance(kinds, list):
            return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)
        word = _TYPE_WORDS.get(str(kinds), "a value")
        low, high = branch.get("minimum"), branch.get("maximum")
        if low is not None and high is not None:
            return f"{word} from {low} to {high}"
        if low is not None:
            return f"{word} of at least {low}"
        if high is not None:
            return f"{word} of at most {high}"
        return word

    def message_for(
        self,
        error: ValidationError,
        keyword: str,
        value: Any,
        instance: Any,
        path: PathKey,
        schema: dict[str, Any],
    ) -> str:
        if keyword == "type":
            kinds = value if isinstance(value, list) else [value]
            expected = " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)
            message = f"expected {expected}, found {_found(instance)}"
            if "string" in kinds and isinstance(instance, bool):
                text = self.document.scalar_text.get((*self.base, *path))
                if text in _YAML_BOOL_WORDS:
                    message += f'; YAML reads {text} as {str(instance).lower()}: write "{text}"'
            return message
        if keyword == "enum":
            choices = ", ".join(str(v) for v in value)
            if set(LANGUAGES) <= set(value):
                # Every name of every language would bury the codes: list those, say the rest.
                choices = ", ".join(LANGUAGES) + " (or the language's name: Japanese, 日本語)"
            if isinstance(instance, str):
                return f"'{shorten(instance)}' is not one of {choices}"
            return f"expected one of {choices}, found {_found(instance)}"
        if keyword == "const":
            return f"must be {value!r}"
        if keyword == "pattern":
            template = PATTERN_MESSAGES.get(value, "'{value}' does not have the expected form")
            message = template.format(value=shorten(str(instance)))
            if "source" in path and str(instance).lower().startswith("file:"):
                message += "; for a local file use `file: path/relative/to/the/spec`"
            return message
        if keyword == "minLength":
            if value == 1:
                return "must not be empty"
            return f"is too short ({len(instance)} characters; at least {value})"
        if keyword == "maxLength":
            return f"is too long ({len(instance):,} characters; at most {value:,})"
        if keyword == "minimum":
            return f"{instance} is less than the minimum of {value}"
        if keyword == "maximum":
            return f"{instance} is more than the maximum of {value}"
        if keyword == "exclusiveMinimum":
            return f"must be more than {value}, found {instance}"
        if keyword == "exclusiveMaximum":
            return f"must be less than {value}, found {instance}"
        if keyword == "minItems":
            if value == 1:
                return "must list at least one item"
            return f"has {len(instance)} items; at least {value} are needed"
        if keyword == "maxItems":
            return f"has {len(instance)} items; at most {value} are allowed"
        if keyword == "uniqueItems":
            return "lists the same item more than once"
        return shorten(error.message, 200)


def _language_code(text: str, choices: list[Any]) -> str | None:
    """'English' or 'japanese' -> the language code, when the choices are language codes."""
    wanted = text.strip().casefold()
    for code, name in LANGUAGES.items():
        if code in choices and wanted in (name.casefold(), name.split()[-1].casefold()):
            return code
    return None


def _type_mismatch(error: ValidationError) -> bool:
    """Whether the error says the value is of the wrong kind altogether for its alternative."""
    if error.validator == "type":
        return True
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return not any(_json_type(v) == _json_type(error.instance) for v in allowed)
    return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _found(value: Any) -> str:
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{shorten(value, 40)}'"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _or_list(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else "".join(items)


def _and_list(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


# --- the compiled checker ---------------------------------------------------------------------


class _Unsupported(Exception):
    """The schema uses something the compiled checker does not implement."""


_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)

Check = Callable[[Any], bool]


def _always(_: Any) -> bool:
    return True


def _is_number(x: Any) -> bool:
    return (type(x) is int or type(x) is float) and x == x  # NaN is left to jsonschema


_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda x: type(x) is str,
    "integer": lambda x: type(x) is int,
    "number": _is_number,
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
}


def _compile(schema: Any, root: dict[str, Any], refs: dict[str, list[Check]]) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return lambda _: False
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        builder = _KEYWORDS.get(keyword)
        if builder is None:
            raise _Unsupported(keyword)
        checks.append(builder(value, schema, root, refs))
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def all_pass(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop beats all() here: this runs per value
            if not check(x):
                return False
        return True

    return all_pass


def _kw_ref(value: str, schema: Any, root: dict[str, Any], refs: dict[str, list[Check]]) -> Check:
    holder = refs.get(value)
    if holder is None:
        holder = refs[value] = []
        holder.append(_compile(_pointer(root, value), root, refs))
    return lambda x: holder[0](x)


def _kw_type(value: Any, schema: Any, root: Any, refs: Any) -> Check:
    kinds = value if isinstance(value, list) else [value]
    checks = [_TYPE_CHECKS[k] for k in kinds]
    if len(checks) == 1:
        return checks[0]
    return lambda x: any(check(x) for check in checks)


def _kw_enum(value: list[Any], schema: Any, root: Any, refs: Any) -> Check:
    if all(type(v) is str for v in value):
        allowed = frozenset(value)
        return lambda x: type(x) is str and x in allowed
    pairs = [(type(v), v) for v in value]
    return lambda x: any(type(x) is t and x == v for t, v in pairs)


def _kw_const(value: Any, schema: Any, root: Any, refs: Any) -> Check:
    return _kw_enum([value], schema, root, refs)


def _kw_properties(value: dict[str, Any], schema: Any, root: Any, refs: Any) -> Check:
    compiled = [(name, _compile(sub, root, refs)) for name, sub in value.items()]

    def check(x: Any) -> bool:
        if type(x) is not dict:
            return True
        for name, sub in compiled:  # noqa: SIM110 - hot path, see all_pass
            if name in x and not sub(x[name]):
                return False
        return True

    return check


def _kw_additional(value: Any, schema: dict[str, Any], root: Any, refs: Any) -> Check:
    if schema.get("patternProperties"):
        raise _Unsupported("patternProperties")
    known = frozenset(schema.get("properties", {}))
    if value is False:
        return lambda x: type(x) is not dict or known.issuperset(x)
    sub = _compile(value, root, refs)

    def check(x: Any) -> bool:
        if type(x) is not dict:
            return True
        for key, item in x.items():  # noqa: SIM110 - hot path, see all_pass
            if key not in known and not sub(item):
                return False
        return True

    return check


def _kw_required(value: list[str], schema: Any, root: Any, refs: Any) -> Check:
    names = tuple(value)

    def check(x: Any) -> bool:
        if type(x) is not dict:
            return True
        for name in names:  # noqa: SIM110 - hot path, see all_pass
            if name not in x:
                return False
        return True

    return check


def _kw_property_names(value: Any, schema: Any, root: Any, refs: Any) -> Check:
    sub = _compile(value, root, refs)
    return lambda x: type(x) is not dict or all(sub(key) for key in x)


def _kw_items(value: Any, schema: Any, root: Any, refs: Any) -> Check:
    if "prefixItems" in schema:
        raise _Unsupported("prefixItems")
    sub = _compile(value, root, refs)

    def check(x: Any) -> bool:
        if type(x) is not list:
            return True
        for item in x:  # noqa: SIM110 - hot path, see all_pass
            if not sub(item):
                return False
        return True

    return check


def _sized(kind: type, compare: Callable[[int, Any], bool]) -> Callable[..., Check]:
    def build(value: Any, schema: Any, root: Any, refs: Any) -> Check:
        return lambda x: type(x) is not kind or compare(len(x), value)  # type: ignore[arg-type]

    return build


def _bounded(compare: Callable[[Any, Any], bool]) -> Callable[..., Check]:
    def build(value: Any, schema: Any, root: Any, refs: Any) -> Check:
        def check(x: Any) -> bool:
            if type(x) is bool or not isinstance(x, (int, float)):
                return True
            return x == x and compare(x, value)

        return check

    return build


def _kw_pattern(value: str, schema: Any, root: Any, refs: Any) -> Check:
    search = re.compile(value).search
    return lambda x: type(x) is not str or search(x) is not None


def _kw_any_of(value: list[Any], schema: Any, root: Any, refs: Any) -> Check:
    subs = [_compile(s, root, refs) for s in value]

    def check(x: Any) -> bool:
        for sub in subs:  # noqa: SIM110 - hot path, see all_pass
            if sub(x):
                return True
        return False

    return check


def _kw_all_of(value: list[Any], schema: Any, root: Any, refs: Any) -> Check:
    subs = [_compile(s, root, refs) for s in value]
    return lambda x: all(sub(x) for sub in subs)


def _kw_one_of(value: list[Any], schema: Any, root: Any, refs: Any) -> Check:
    subs = [_compile(s, root, refs) for s in value]
    return lambda x: sum(1 for sub in subs if sub(x)) == 1


_KEYWORDS: dict[str, Callable[..., Check]] = {
    "$ref": _kw_ref,
    "type": _kw_type,
    "enum": _kw_enum,
    "const": _kw_const,
    "properties": _kw_properties,
    "additionalProperties": _kw_additional,
    "required": _kw_required,
    "propertyNames": _kw_property_names,
    "items": _kw_items,
    "minProperties": _sized(dict, lambda n, v: n >= v),
    "maxProperties": _sized(dict, lambda n, v: n <= v),
    "minItems": _sized(list, lambda n, v: n >= v),
    "maxItems": _sized(list, lambda n, v: n <= v),
    "minLength": _sized(str, lambda n, v: n >= v),
    "maxLength": _sized(str, lambda n, v: n <= v),
    "minimum": _bounded(lambda x, v: x >= v),
    "maximum": _bounded(lambda x, v: x <= v),
    "exclusiveMinimum": _bounded(lambda x, v: x > v),
    "exclusiveMaximum": _bounded(lambda x, v: x < v),
    "pattern": _kw_pattern,
    "anyOf": _kw_any_of,
    "allOf": _kw_all_of,
    "oneOf": _kw_one_of,
}
