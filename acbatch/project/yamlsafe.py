"""Safe YAML loading that remembers where every value came from.

The document is read as a stream of parser events (libyaml's C parser when PyYAML has it) and
turned into plain Python data here, never by PyYAML's constructors, so that:

* every mapping key, mapping value and list item keeps its 1-based (line, column);
* duplicate keys are errors (PyYAML silently keeps the last one);
* aliases are bounded: a "billion laughs" document is refused after a few hundred events instead
  of expanding into gigabytes, and recursive aliases are refused;
* nesting depth, file size, binary and non-UTF-8 files get clear errors;
* only safe scalar types are produced: str, int, float, bool and None.

Scalar typing follows YAML 1.1 as PyYAML implements it, with one exception: timestamps stay
text, so `publish.date: 2026-11-01` is the string "2026-11-01" and the loader parses it.
YAML 1.1 booleans are kept: true/false, yes/no and on/off (any of their capitalisations) are
booleans. No spec field takes a bare word that collides with them (the language enum has no
`no`); where a boolean lands in a text field, the schema layer says to quote it.
Mapping keys are always text: `1: x` and `yes: x` have the keys "1" and "yes".
Merge keys (`<<: *base`) are supported; keys written in the mapping win over merged ones.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.resolver import Resolver

Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's C parser when available: an order of magnitude faster than the pure-Python one."""

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
"""Values in one document, counting every copy an alias makes."""
MAX_ALIAS_NODES = 10_000
"""Values that aliases may copy in one document: anchors are for small repeated parts."""
MAX_NUMBER_DIGITS = 100

PathKey = tuple[str | int, ...]
"""Where a value sits: mapping keys and list indexes from the document's root."""

_TAG_PREFIX = "tag:yaml.org,2002:"
_STR = _TAG_PREFIX + "str"
_NULL = _TAG_PREFIX + "null"
_BOOL = _TAG_PREFIX + "bool"
_INT = _TAG_PREFIX + "int"
_FLOAT = _TAG_PREFIX + "float"
_TIMESTAMP = _TAG_PREFIX + "timestamp"
_MERGE = _TAG_PREFIX + "merge"
_VALUE = _TAG_PREFIX + "value"
_MAP = _TAG_PREFIX + "map"
_SEQ = _TAG_PREFIX + "seq"

_IMPLICIT_RESOLVERS: dict[str | None, list[tuple[str, re.Pattern[str]]]] = (
    Resolver.yaml_implicit_resolvers
)
_BOOL_VALUES = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
}
_KEY_TAGS = frozenset({"!", _STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP})
"""Explicit tags a key may carry; the key is its text either way."""
_MERGE_KEY = object()
"""Stands in a mapping frame for a pending `<<` key."""


class YamlError(Exception):
    """A file that is not acceptable YAML; carries where and why."""

    def __init__(
        self,
        message: str,
        file: Path | None = None,
        line: int = 1,
        column: int = 1,
        path: PathKey = (),
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.path = path
        """Where in the data the problem is, when known (() for the whole file)."""
        where = f"{file}:{line}:{column}: " if file is not None else f"{line}:{column}: "
        super().__init__(where + message)


class YamlDocument:
    """Plain data plus where each part of it was written."""

    def __init__(
        self,
        data: Any,
        file: Path | None = None,
        marks: list[Any] | None = None,
        scalar_text: dict[PathKey, str] | None = None,
    ) -> None:
        self.data = data
        self.file = file
        self._marks = marks or [1, 1, 1, 1, None]
        self.scalar_text: dict[PathKey, str] = scalar_text or {}
        """The source text of plain scalars that became booleans or null (for hints)."""

    def key_position(self, path: PathKey) -> tuple[int, int]:
        """1-based (line, column) of the key at `path` (for a list item: the item itself).

        A path that was not written (a missing field, a part of an aliased value) gets the
        position of its nearest written ancestor.
        """
        entry = self._entry(path)
        return entry[0], entry[1]

    def value_position(self, path: PathKey) -> tuple[int, int]:
        """1-based (line, column) where the value at `path` starts (nearest written ancestor)."""
        entry = self._entry(path)
        return entry[2], entry[3]

    def _entry(self, path: PathKey) -> list[Any]:
        entry = self._marks
        for part in path:
            children = entry[4]
            if type(children) is dict and type(part) is str:
                child = children.get(part)
            elif type(children) is list and type(part) is int and 0 <= part < len(children):
                child = children[part]
            else:
                break
            if child is None:
                break
            entry = child
        return entry


def read_yaml_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> YamlDocument:
    """Load one YAML file safely; raises YamlError for anything a user must fix."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise YamlError("file not found", path) from None
    except OSError as exc:
        raise YamlError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if not stat.S_ISREG(info.st_mode):
        raise YamlError("not a regular file", path)
    if info.st_size > max_bytes:
        raise YamlError(_too_big(info.st_size, max_bytes), path)
    try:
        with open(path, "rb", buffering=0) as handle:
            # Read the size the file has: a read of max_bytes allocates that much every time.
            data = handle.read(min(info.st_size, max_bytes) + 1) or b""
            while len(data) <= max_bytes:  # the file grew since stat(): read on to the limit
                more = handle.read(min(64 * 1024, max_bytes + 1 - len(data)))
                if not more:
                    break
                data += more
    except OSError as exc:
        raise YamlError(f"cannot read the file ({exc.strerror or exc})", path) from None
    return load_yaml_bytes(data, path, max_bytes)


def _too_big(size: int, max_bytes: int) -> str:
    return f"file is too large ({size:,} bytes; at most {max_bytes:,} bytes are allowed)"


def load_yaml_bytes(
    data: bytes, file: Path | None = None, max_bytes: int = MAX_FILE_BYTES
) -> YamlDocument:
    """Check that `data` is UTF-8 text of a sane size, then load it."""
    if len(data) > max_bytes:
        raise YamlError(_too_big(len(data), max_bytes), file)
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise YamlError("binary file (contains NUL bytes); expected UTF-8 YAML text", file, line)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlError(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            file,
            line,
        ) from None
    return _load(data, file)


def load_yaml_text(text: str, file: Path | None = None) -> YamlDocument:
    """Load YAML from a string (same limits as files)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise YamlError("text contains unpaired surrogate characters", file) from None
    return load_yaml_bytes(data, file)


class _Frame:
    """An open mapping or list, with the positions of what it holds so far.

    Positions are kept as a tree shaped like the data: each entry is
    [key line, key column, value line, value column, children], where children is a dict
    (mappings) or list (lists) of entries, or None. Building path tuples for every value
    would cost more than parsing.
    """

    __slots__ = (
        "anchor",
        "column",
        "container",
        "entry",
        "is_map",
        "line",
        "merge_position",
        "merges",
        "nodes_at_start",
        "path",
        "pending_key",
    )

    def __init__(
        self,
        container: dict[str, Any] | list[Any],
        entry: list[Any],
        path: PathKey,
        anchor: str | None,
        nodes_at_start: int,
        line: int,
        column: int,
    ) -> None:
        self.container = container
        self.is_map = type(container) is dict
        self.entry = entry
        """This collection's own entry; entry[4] holds its children's entries."""
        self.path = path
        self.anchor = anchor
        self.nodes_at_start = nodes_at_start
        self.line = line
        self.column = column
        self.pending_key: Any = None
        """Mappings: the key whose value comes next (None: a key comes next)."""
        self.merges: list[tuple[dict[str, Any], tuple[int, int]]] = []
        self.merge_position = (line, column)
        """Where this mapping's `<<` key is; merged keys point there."""


class _Builder:
    """Turns parser events into plain data, checking every limit as it goes."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.root: Any = None
        self.root_entry: list[Any] = [1, 1, 1, 1, None]
        self.scalar_text: dict[PathKey, str] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.alias_nodes = 0
        self.stack: list[_Frame] = []

    def current_path(self) -> PathKey:
        """The path of the node being read (for messages; not needed on the hot path)."""
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if not frame.is_map:
            return (*frame.path, len(frame.container))
        key = frame.pending_key
        if key is None:
            return frame.path
        return (*frame.path, "<<" if key is _MERGE_KEY else key)

    def error(self, message: str, line: int, column: int, path: PathKey | None = None) -> YamlError:
        where = self.current_path() if path is None else path
        return YamlError(message, self.file, line, column, where)

    def build(self, next_event: Callable[[], Any]) -> YamlDocument:
        """Consume events from `next_event` (None after the stream's end)."""
        documents = 0
        scalar_event = yaml.ScalarEvent
        while True:
            event = next_event()
            if event is None:
                break
            kind = type(event)
            if kind is scalar_event:
                self.scalar(event)
            elif kind is yaml.MappingStartEvent:
                self.start(event, True)
            elif kind is yaml.SequenceStartEvent:
                self.start(event, False)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                self.end()
            elif kind is yaml.AliasEvent:
                self.alias(event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    mark = event.start_mark
                    raise self.error(
                        "more than one YAML document ('---') in the file; keep one per file",
                        mark.line + 1,
                        mark.column + 1,
                        (),
                    )
        return YamlDocument(self.root, self.file, self.root_entry, self.scalar_text)

    def count(self, added: int, line: int, column: int) -> None:
        self.nodes += added
        if self.nodes > MAX_NODES:
            raise self.error(
                f"document has more than {MAX_NODES:,} values; split it or simplify it",
                line,
                column,
            )

    def value_entry(self, line: int, column: int) -> list[Any]:
        """The position entry for the value starting here, created in its parent."""
        if not self.stack:
            entry = self.root_entry
            entry[0] = entry[2] = line
            entry[1] = entry[3] = column
            return entry
        frame = self.stack[-1]
        if frame.is_map:
            key = frame.pending_key
            if key is _MERGE_KEY:
                return [line, column, line, column, None]  # merged later under real keys
            entry = frame.entry[4][key]
            entry[2] = line
            entry[3] = column
            return entry
        entry = [line, column, line, column, None]
        frame.entry[4].append(entry)
        return entry

    def scalar(self, event: Any) -> None:
        mark = event.start_mark
        line = mark.line + 1
        column = mark.column + 1
        stack = self.stack
        frame = stack[-1] if stack else None
        if frame is not None and frame.is_map and frame.pending_key is None:
            self.key(event, frame, line, column)
            return
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.count(0, line, column)
        text: str = event.value
        plain = event.implicit[0]
        if event.tag is None and (
            not plain or (text and text[0] not in _IMPLICIT_RESOLVERS) or not text.strip()
        ):
            # The common case, kept inline: text that no implicit type could claim.
            value: Any = text if text or not plain else None
        else:
            value = self.scalar_value(event, line, column)
        if plain and (value is None or type(value) is bool):
            self.scalar_text[self.current_path()] = text
        if frame is not None and frame.is_map and frame.pending_key is not _MERGE_KEY:
            entry = frame.entry[4][frame.pending_key]
            entry[2] = line
            entry[3] = column
            frame.container[frame.pending_key] = value  # type: ignore[index]
            frame.pending_key = None
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1)
            return
        self.value_entry(line, column)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self.attach(value, line, column)

    def key(self, event: Any, frame: _Frame, line: int, column: int) -> None:
        text = event.value
        path = (*frame.path, text)
        if event.anchor is not None:
            # A key's anchor is harmless, but an alias to it would be a key-typed value.
            self.anchors[event.anchor] = (text, 1)
        if text == "<<" and event.implicit[0]:
            if frame.merges:
                raise self.error("duplicate merge key '<<'", line, column, path)
            frame.pending_key = _MERGE_KEY
            frame.merge_position = (line, column)
            return
        tag = event.tag
        if tag is not None and tag not in _KEY_TAGS and not event.implicit[0]:
            raise self.error(f"unsupported tag {_tag_name(tag)} on a key", line, column, path)
        entries = frame.entry[4]
        if text in entries:
            first_line = entries[text][0]
            raise self.error(
                f"duplicate key '{shorten(text)}' (first defined on line {first_line})",
                line,
                column,
                path,
            )
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.count(0, line, column)
        frame.pending_key = text
        entries[text] = [line, column, line, column, None]

    def scalar_value(self, event: Any, line: int, column: int) -> Any:
        text: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return text
            resolvers = _IMPLICIT_RESOLVERS.get(text[0] if text else "", ())
            tag = _STR
            for candidate, pattern in resolvers:
                if pattern.match(text):
                    tag = candidate
                    break
        if tag in (_STR, _TIMESTAMP, _VALUE):
            return text
        if tag == _NULL:
            if text in ("", "~", "null", "Null", "NULL"):
                return None
        elif tag == _BOOL:
            value = _BOOL_VALUES.get(text.lower())
            if value is not None:
                return value
        elif tag == _INT:
            return self.number(text, _to_int, line, column)
        elif tag == _FLOAT:
            return self.number(text, _to_float, line, column)
        elif tag == _MERGE:
            raise self.error("'<<' (a merge key) cannot be used as a value", line, column)
        else:
            raise self.unsupported_tag(tag, line, column)
        kind = tag[len(_TAG_PREFIX) :]
        raise self.error(f"'{shorten(text)}' is not a valid {kind}", line, column)

    def unsupported_tag(self, tag: str, line: int, column: int) -> YamlError:
        message = f"unsupported tag {_tag_name(tag)}; only plain YAML data is allowed"
        return self.error(message, line, column)

    def number(self, text: str, convert: Any, line: int, column: int) -> Any:
        if len(text) > MAX_NUMBER_DIGITS and sum(c.isdigit() for c in text) > MAX_NUMBER_DIGITS:
            raise self.error(f"number has more than {MAX_NUMBER_DIGITS} digits", line, column)
        try:
            return convert(text)
        except (ValueError, OverflowError, IndexError):
            raise self.error(f"'{shorten(text)}' is not a valid number", line, column) from None

    def start(self, event: Any, is_mapping: bool) -> None:
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        stack = self.stack
        if stack and stack[-1].is_map and stack[-1].pending_key is None:
            raise self.error("mapping keys must be plain text, not a list or mapping", line, column)
        tag = event.tag
        if tag not in (None, "!") and tag != (_MAP if is_mapping else _SEQ):
            raise self.unsupported_tag(tag, line, column)
        if len(stack) >= MAX_DEPTH:
            raise self.error(
                f"nesting is deeper than {MAX_DEPTH} levels; simplify the document", line, column
            )
        self.count(1, line, column)
        path = self.current_path()
        entry = self.value_entry(line, column)
        entry[4] = {} if is_mapping else []
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
            self.anchors.pop(anchor, None)
        container: dict[str, Any] | list[Any] = {} if is_mapping else []
        stack.append(_Frame(container, entry, path, anchor, self.nodes, line, column))

    def end(self) -> None:
        frame = self.stack.pop()
        container = frame.container
        if frame.merges:
            children = frame.entry[4]
            for merged, (merge_line, merge_column) in frame.merges:
                for key, value in merged.items():
                    if key not in container:
                        container[key] = _copy(value)  # type: ignore[call-overload]
                        children[key] = [merge_line, merge_column, merge_line, merge_column, None]
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (container, self.nodes - frame.nodes_at_start + 1)
        self.attach(container, frame.line, frame.column)

    def alias(self, event: Any) -> None:
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        stack = self.stack
        name = event.anchor
        if stack and stack[-1].is_map and stack[-1].pending_key is None:
            raise self.error("an alias cannot be used as a mapping key", line, column)
        if name in self.open_anchors:
            raise self.error(f"alias *{name} refers to itself (recursive data)", line, column)
        if name not in self.anchors:
            raise self.error(f"alias *{name} has no matching anchor &{name}", line, column)
        value, size = self.anchors[name]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise self.error(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} values "
                "(a 'billion laughs' document?); write the data out instead",
                line,
                column,
            )
        self.count(size, line, column)
        # No child positions: anything inside an aliased value points at the alias.
        self.value_entry(line, column)
        self.attach(_copy(value), line, column)

    def attach(self, value: Any, line: int, column: int) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        container = frame.container
        if not frame.is_map:
            container.append(value)  # type: ignore[union-attr]
            return
        key = frame.pending_key
        frame.pending_key = None
        if key is _MERGE_KEY:
            sources = value if type(value) is list else [value]
            if not sources or any(type(s) is not dict for s in sources):
                raise self.error(
                    "'<<' must be followed by a mapping or a list of mappings", line, column
                )
            frame.merges.extend((source, frame.merge_position) for source in sources)
            return
        container[key] = value  # type: ignore[index]


def _copy(value: Any) -> Any:
    """A deep copy of plain data, so an aliased part can be edited on its own."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    return value


def _to_int(text: str) -> int:
    value = text.replace("_", "")
    sign = 1
    if value[0] in "+-":
        if value[0] == "-":
            sign = -1
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        total = 0
        for part in value.split(":"):
            total = total * 60 + int(part)
        return sign * total
    return sign * int(value)


def _to_float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = 1.0
    if value[0] in "+-":
        if value[0] == "-":
            sign = -1.0
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        total = 0.0
        for part in value.split(":"):
            total = total * 60 + float(part)
        return sign * total
    return sign * float(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shorten(text: str, limit: int = 60) -> str:
    """User text made safe to print in a message: control characters escaped, long text cut."""
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load(data: bytes, file: Path | None) -> YamlDocument:
    builder = _Builder(file)
    loader = Loader(data)
    try:
        return builder.build(loader.get_event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, data, file) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML error: {shorten(str(exc), 200)}", file) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise YamlError("document is nested too deeply", file) from None
    finally:
        loader.dispose()


def _tab_near(data: bytes, line: int, column: int) -> bool:
    """Whether the error's line starts with a tab or the error points at one."""
    lines = data.split(b"\n", line)
    if len(lines) < line:
        return False
    text = lines[line - 1].decode("utf-8", "replace")
    indent = text[: len(text) - len(text.lstrip(" \t"))]
    return "\t" in indent or text[column - 1 : column] == "\t"


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


def _syntax_error(exc: yaml.MarkedYAMLError, data: bytes, file: Path | None) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    problem = exc.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    if _tab_near(data, line, column):
        message += "; indent with spaces, not tabs"
    elif problem.startswith("mapping values are not allowed"):
        message += "; check the indentation, and quote values that contain ': '"
    return YamlError(message, file, line, column)
