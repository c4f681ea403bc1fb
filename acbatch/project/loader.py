"""Loading a project: acbatch.yaml and specs/*.yaml -> validated, normalised model objects.

Every problem in every file is collected as a Problem (never raised), so one `acbatch validate`
shows them all. The only exception is a missing acbatch.yaml: that is not a project at all.

How a spec becomes an Episode:

1. the file is read with acbatch.project.yamlsafe (positions, duplicate keys, size limits);
2. it is checked against schemas/episode.schema.json on its own, and acbatch.yaml's
   `defaults:` against the same field rules, so each error points into the file that has it;
3. `defaults:` is deep-merged under the spec (mappings merge recursively; lists and scalars
   in the spec replace the default);
4. style, duration, language and speakers must be set by then;
5. names become API codes (style, duration), dates become timezone-aware datetimes, `file:`
   sources are resolved inside the project, and speaker names are looked up in the voice
   catalog;
6. across files: duplicate ids and duplicate (season, episode) numbers.

With `cache=True` (the commands' way), valid specs whose bytes did not change since they were
last checked come from acbatch.project.cache instead of steps 1-5; step 6 and the checks of
`file:` sources always run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.constants import CONFIG_NAME
from acbatch.errors import ConfigError
from acbatch.project import schema
from acbatch.project.cache import SpecCache, content_digest, context_key, read_regular_file
from acbatch.project.model import (
    ApiSettings,
    AudioSettings,
    Episode,
    Owner,
    Paths,
    Polling,
    Problem,
    Project,
    Publish,
    ShowConfig,
    ShowInfo,
    Source,
    Timeouts,
    schema_audio_settings,
)
from acbatch.project.suggest import did_you_mean
from acbatch.project.yamlsafe import (
    MAX_FILE_BYTES,
    PathKey,
    YamlDocument,
    YamlError,
    load_yaml_bytes,
    read_yaml_file,
    shorten,
)
from acbatch.voices import CatalogError, VoiceCatalog

SPEC_SUFFIXES = (".yaml", ".yml")
REVIEW_SCRIPT_SUFFIXES = (".script.yaml", ".script.yml")
REQUIRED_AFTER_DEFAULTS = ("style", "duration", "language", "speakers")

_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


@dataclass
class LoadResult:
    """A loaded project plus the files that were checked (acbatch.yaml first)."""

    project: Project
    files: list[Path]


def load_project(
    config_path: Path, spec_paths: list[Path] | None = None, *, cache: bool = False
) -> Project:
    """Load and validate the project whose acbatch.yaml is `config_path`.

    `spec_paths` limits the specs to those files and folders (default: every spec in the
    specs folder). Problems are in `project.problems`; commands must refuse to act while
    `project.errors` is not empty. Raises ConfigError only when acbatch.yaml does not exist.
    With `cache`, unchanged valid specs are taken from (and new ones added to) the spec cache
    in the cache folder (acbatch.project.cache); the result is the same either way.
    """
    return load_project_files(config_path, spec_paths, cache=cache).project


def load_show_config(config_path: Path) -> tuple[ShowConfig | None, list[Problem]]:
    """acbatch.yaml alone: the config (None if it has errors) and its problems."""
    read = _read_config(_config_file(config_path))
    return (None if _has_errors(read.problems) else read.config), read.problems


def load_project_files(
    config_path: Path, spec_paths: list[Path] | None = None, *, cache: bool = False
) -> LoadResult:
    """load_project, also reporting which files were checked."""
    config_path = _config_file(config_path)
    config_read = _read_config(config_path)
    problems = list(config_read.problems)
    files, listing_problems = _spec_files(config_read, spec_paths)
    problems += listing_problems
    loader = _ProjectLoader(config_read, _open_cache(config_read) if cache else None)
    loader.check_default_speakers()
    episodes = []
    for spec_path in files:
        episode = loader.load_spec(spec_path)
        if episode is not None:
            episodes.append(episode)
    loader.save_cache(files if spec_paths is None else None)
    problems += loader.problems
    problems += loader.cross_file_problems()
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: (str(p.file), p.line, p.column, p.field))
    project = Project(config_read.config, episodes, unique)
    return LoadResult(project, [config_path, *files])


def discover_specs(specs_dir: Path) -> list[Path]:
    """Spec files in a folder, sorted: *.yaml and *.yml, without review scripts and dotfiles."""
    try:
        entries = list(os.scandir(specs_dir))
    except OSError:
        return []
    names = sorted(
        entry.name
        for entry in entries
        if entry.name.endswith(SPEC_SUFFIXES)
        and not entry.name.endswith(REVIEW_SCRIPT_SUFFIXES)
        and not entry.name.startswith(".")
    )
    return [specs_dir / name for name in names]


def parse_publish_date(text: str) -> datetime:
    """ISO 8601 date or date-time -> aware datetime (a date alone is midnight UTC; naive = UTC).

    Raises ValueError with a readable reason.
    """
    match = _DATE.match(text.strip())
    if match is None:
        raise ValueError("expected a date such as 2026-11-01 or 2026-11-01T09:00:00Z")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    zone = timezone.utc
    if offset and offset != "Z":
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"time zone offset {offset} is out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-delta if offset[0] == "-" else delta)
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=zone,
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


# --- acbatch.yaml ------------------------------------------------------------------------------


@dataclass
class _ConfigRead:
    path: Path
    root: Path
    config: ShowConfig
    """Best effort: usable paths and defaults even when the file has errors."""
    document: YamlDocument | None
    problems: list[Problem]
    defaults: dict[str, Any] = field(default_factory=dict)
    """The valid part of `defaults:`."""
    invalid_defaults: set[str] = field(default_factory=set)
    defaults_known: bool = True
    """False when acbatch.yaml could not be read: required-field checks are skipped."""
    source: bytes | None = None
    """acbatch.yaml's bytes, when it could be read."""
    outside_allowed: bool = False
    """`paths.dangerously_allow_outside_project: true`: folders and artwork may be anywhere."""


def _config_file(config_path: Path) -> Path:
    config_path = Path(config_path).absolute()
    if config_path.is_dir():
        config_path = config_path / CONFIG_NAME
    if not config_path.is_file():
        folder = config_path.parent
        raise ConfigError(
            f"no {config_path.name} in {folder}: this is not an acbatch project; "
            "run `acbatch init` to create one (or pass -C FOLDER)"
        )
    return config_path


def _has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _read_config(path: Path) -> _ConfigRead:
    root = path.parent.resolve()
    problems: list[Problem] = []
    document: YamlDocument | None = None
    data: dict[str, Any] = {}
    known = True
    source = read_regular_file(path, MAX_FILE_BYTES)
    try:
        # The careful reader explains a file that cannot be read; the bytes are the same.
        document = read_yaml_file(path) if source is None else load_yaml_bytes(source, path)
    except YamlError as exc:
        name = schema.format_field(exc.path)
        problems.append(Problem(path, exc.line, exc.column, name, exc.message))
        known = False
    if document is not None:
        if document.data is None:
            message = (
                "acbatch.yaml is empty: it needs at least a `show:` section "
                "(`acbatch init` writes a commented example)"
            )
            problems.append(Problem(path, 1, 1, "show", message))
        else:
            problems += schema.validate_document(schema.SHOW, document, file=path)
            if isinstance(document.data, dict):
                data = document.data
            else:
                known = False
    read = _ConfigRead(path, root, _best_effort_config(data, path, root), document, problems)
    read.outside_allowed = _section(data, "paths").get(OUTSIDE_OPT_OUT) is True
    if read.config.api.base_url:
        from acbatch.api.transport import trust_api_host

        # An API on a private network may serve its files from there (see SECURITY.md).
        trust_api_host(read.config.api.base_url)
    problems += _confinement_problems(read, data)
    read.defaults_known = known
    read.source = source
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and document is not None:
        problems += schema.validate_document(
            schema.DEFAULTS, document, defaults, base=("defaults",), file=path
        )
        for key, value in defaults.items():
            if schema.is_valid(schema.DEFAULTS, {key: value}):
                read.defaults[key] = value
            else:
                read.invalid_defaults.add(key)
    elif defaults is not None:
        read.defaults_known = False
    return read


def _best_effort_config(data: dict[str, Any], path: Path, root: Path) -> ShowConfig:
    """A ShowConfig from whatever parts of the data have the right types; defaults elsewhere."""
    filled = schema.fill_defaults({}, schema.SHOW)
    show = _section(data, "show")
    api = _section(data, "api")
    paths = _section(data, "paths")
    show_defaults = filled["show"]
    api_defaults = filled["api"]
    path_defaults = filled["paths"]
    owner_data = _section(show, "owner")
    owner = None
    if _text(owner_data, "name") and _text(owner_data, "email"):
        owner = Owner(_text(owner_data, "name") or "", _text(owner_data, "email") or "")
    info = ShowInfo(
        title=_text(show, "title") or "",
        description=_text(show, "description") or "",
        author=_text(show, "author") or "",
        language=_text(show, "language") or "",
        base_url=_text(show, "base_url") or "",
        owner=owner,
        categories=_texts(show, "categories"),
        image=_text(show, "image"),
        explicit=_flag(show, "explicit", show_defaults["explicit"]),
        link=_text(show, "link"),
        copyright=_text(show, "copyright"),
        type=_text(show, "type") or show_defaults["type"],
        locked=_flag(show, "locked", show_defaults["locked"]),
        guid=_text(show, "guid"),
        keywords=_texts(show, "keywords"),
    )
    timeouts = _section(api, "timeouts")
    polling = _section(api, "polling")
    budget = _section(api, "budget")
    settings = ApiSettings(
        base_url=_text(api, "base_url"),
        jobs=_number(api, "jobs", api_defaults["jobs"], integer=True),
        max_credits=_number(api, "max_credits", None, integer=True),
        timeouts=Timeouts(
            connect=_number(timeouts, "connect", api_defaults["timeouts"]["connect"]),
            read=_number(timeouts, "read", api_defaults["timeouts"]["read"]),
            download=_number(timeouts, "download", api_defaults["timeouts"]["download"]),
            feed_check=_number(timeouts, "feed_check", api_defaults["timeouts"]["feed_check"]),
        ),
        polling=Polling(
            initial=_number(polling, "initial", api_defaults["polling"]["initial"]),
            max_interval=_number(polling, "max_interval", api_defaults["polling"]["max_interval"]),
            deadline=_number(polling, "deadline", api_defaults["polling"]["deadline"]),
        ),
        retries=_number(api, "retries", api_defaults["retries"], integer=True),
        download_max_bytes=_number(
            api, "download_max_bytes", api_defaults["download_max_bytes"], integer=True
        ),
        max_attempts=_number(api, "max_attempts", api_defaults["max_attempts"], integer=True),
        budget_monthly=_number(budget, "monthly", None, integer=True),
        budget_total=_number(budget, "total", None, integer=True),
        max_answer_bytes=_number(
            api, "max_answer_bytes", api_defaults["max_answer_bytes"], integer=True
        ),
        max_field_chars=_number(
            api, "max_field_chars", api_defaults["max_field_chars"], integer=True
        ),
        max_source_bytes=_number(
            api, "max_source_bytes", api_defaults["max_source_bytes"], integer=True
        ),
        max_source_chars=_number(
            api, "max_source_chars", api_defaults["max_source_chars"], integer=True
        ),
    )

    def where(name: str) -> Path:
        value = _text(paths, name) or path_defaults[name]
        return Path(os.path.normpath(root / value))

    resolved = Paths(
        root=root,
        config=path,
        specs=where("specs"),
        state=where("state"),
        output=where("output"),
        templates=where("templates"),
        voices=where("voices"),
    )
    defaults = data.get("defaults")
    return ShowConfig(
        info,
        dict(defaults) if isinstance(defaults, dict) else {},
        settings,
        resolved,
        _audio_settings(_section(data, "audio"), root),
    )


def _audio_settings(audio: dict[str, Any], root: Path) -> AudioSettings:
    """The `audio:` block, the schema's defaults where it says nothing (or the wrong type)."""
    default = schema_audio_settings()
    loudness = audio.get("loudness")
    target: float | None = default.loudness_target
    true_peak = default.true_peak
    if loudness is False:
        target = None
    elif isinstance(loudness, dict):
        target = _number(loudness, "target", target)
        true_peak = _number(loudness, "true_peak", true_peak)

    def jingle(name: str) -> Path | None:
        value = _text(audio, name)
        return Path(os.path.normpath(root / value)) if value and "\x00" not in value else None

    return AudioSettings(
        crossfade=_number(audio, "crossfade", default.crossfade),
        loudness_target=target,
        true_peak=true_peak,
        intro=jingle("intro"),
        outro=jingle("outro"),
    )


OUTSIDE_OPT_OUT = "dangerously_allow_outside_project"
"""`paths:` setting that lets the folders and the show's artwork live outside the project."""
CONFINED_PATHS = ("specs", "state", "output", "templates", "voices")


def _outside(path: Path, root: Path) -> str | None:
    """Why `path` is not inside `root` once symbolic links are followed, or None."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return "cannot be resolved (a symbolic link loop?)"
    if resolved.is_relative_to(root):
        return None
    if Path(os.path.normpath(path.absolute())).is_relative_to(root):
        return "leads outside the project folder through a symbolic link"
    return "is outside the project folder"


def _confinement_problems(read: _ConfigRead, data: dict[str, Any]) -> list[Problem]:
    """Every folder acbatch reads or writes, and the show's artwork, must resolve inside the
    project, unless acbatch.yaml opts out with `paths.dangerously_allow_outside_project`."""
    if read.outside_allowed:
        return []
    problems = []
    paths = read.config.paths
    hint = f"keep it inside the project (or set `paths.{OUTSIDE_OPT_OUT}: true` at your own risk)"
    for name in CONFINED_PATHS:
        reason = _outside(getattr(paths, name), read.root)
        if reason is not None:
            line, column = _config_position(read, ("paths", name))
            shown = shorten(str(_section(data, "paths").get(name) or getattr(paths, name)))
            message = f"'{shown}' {reason}; {hint}"
            problems.append(Problem(read.path, line, column, f"paths.{name}", message))
            continue
        for link in _links_leading_outside(getattr(paths, name), read.root, name):
            line, column = _config_position(read, ("paths", name))
            message = (
                f"'{_display(link, read.root)}' is a symbolic link leading outside the project "
                "folder: acbatch would read or write through it; remove it"
            )
            problems.append(Problem(read.path, line, column, f"paths.{name}", message))
    for name in ("intro", "outro"):
        jingle = getattr(read.config.audio, name)
        if jingle is None:
            continue
        line, column = _config_position(read, ("audio", name))
        shown = shorten(str(_section(data, "audio").get(name)))
        reason = _outside(jingle, read.root)
        if reason is not None:
            message = f"'{shown}' {reason}; {hint}"
            problems.append(Problem(read.path, line, column, f"audio.{name}", message))
        elif not jingle.is_file():
            message = f"'{shown}' is not a file (the {name} jingle: an MP3 or WAV file)"
            problems.append(Problem(read.path, line, column, f"audio.{name}", message))
    image = read.config.show.image
    if image and not image.lower().startswith(("http://", "https://")) and "\x00" not in image:
        reason = _outside(read.root / image, read.root)
        if reason is not None:
            line, column = _config_position(read, ("show", "image"))
            message = f"'{shorten(image)}' {reason}; {hint}"
            problems.append(Problem(read.path, line, column, "show.image", message))
    return problems


_SCAN_DEPTH = {"specs": 0, "state": 2, "output": 3, "templates": 2}
_SCAN_LIMIT = 20_000


def _links_leading_outside(folder: Path, root: Path, name: str) -> list[Path]:
    """Symbolic links inside a project folder (a few levels down) that lead outside the project:
    a committed `output/episodes -> /somewhere` or `specs/ep.script.yaml -> ~/.ssh/...` would
    otherwise be written or read through."""
    found: list[Path] = []
    pending = [(folder, 1)]
    seen = 0
    while pending and seen < _SCAN_LIMIT:
        current, depth = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            path = Path(entry.path)
            if entry.is_symlink():
                # In specs/, spec files and `file:` sources are checked one by one where used.
                checked = name == "specs" and not entry.name.endswith(REVIEW_SCRIPT_SUFFIXES)
                if not checked and _outside(path, root) is not None:
                    found.append(path)
            elif depth < _SCAN_DEPTH.get(name, 0) and entry.is_dir(follow_symlinks=False):
                pending.append((path, depth + 1))
    return sorted(found)


def _section(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _texts(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _flag(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    return value if isinstance(value, bool) else default


def _number(data: dict[str, Any], key: str, default: Any, integer: bool = False) -> Any:
    """The number at `key` if it has the right type, else `default`; seconds become floats."""
    value = data.get(key)
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if wrong_type or (integer and not isinstance(value, int)):
        value = default
    if integer or value is None:
        return value
    return float(value)


# --- which spec files -------------------------------------------------------------------------


def _spec_files(
    config: _ConfigRead, spec_paths: list[Path] | None
) -> tuple[list[Path], list[Problem]]:
    specs_dir = config.config.paths.specs
    if spec_paths is None:
        if not specs_dir.is_dir():
            line, column = _config_position(config, ("paths", "specs"))
            message = f"specs folder not found: {_display(specs_dir, config.root)}"
            return [], [Problem(config.path, line, column, "paths.specs", message)]
        return discover_specs(specs_dir), []
    files: list[Path] = []
    problems: list[Problem] = []
    for given in spec_paths:
        path = Path(given).absolute()
        if path.is_dir():
            folder = specs_dir if path.resolve() == config.root else path
            files += discover_specs(folder)
        elif path.resolve() == config.path.resolve() or path.name.endswith(REVIEW_SCRIPT_SUFFIXES):
            continue
        elif not path.name.endswith(SPEC_SUFFIXES):
            message = "not an episode spec: spec files end in .yaml or .yml"
            problems.append(Problem(path, 1, 1, "", message))
        else:
            files.append(path)
    return sorted(dict.fromkeys(files)), problems


def _open_cache(config: _ConfigRead) -> SpecCache | None:
    """The spec cache for this acbatch.yaml, or None when results must not be cached.

    Only a project whose acbatch.yaml is valid uses it: with errors there, nothing runs anyway
    and every message must come from a fresh check.
    """
    if config.source is None or _has_errors(config.problems):
        return None
    data = config.document.data if config.document is not None else None
    key = context_key(config.root, data, config.config.paths.voices)
    if key is None:
        return None
    return SpecCache.open(config.root, key, config.path, config.source)


def _config_position(config: _ConfigRead, path: PathKey) -> tuple[int, int]:
    if config.document is None:
        return 1, 1
    return config.document.value_position(path)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# --- specs -------------------------------------------------------------------------------------


@dataclass
class _Spec:
    path: Path
    document: YamlDocument
    data: dict[str, Any]


class _ProjectLoader:
    def __init__(self, config: _ConfigRead, cache: SpecCache | None = None) -> None:
        self.config = config
        self.cache = cache
        self.outside_allowed = config.outside_allowed
        self.problems: list[Problem] = []
        self.catalog: VoiceCatalog | None = None
        self.catalog_error: str | None = None
        self.catalog_loaded = False
        self.catalog_exists: bool | None = None
        self.catalog_failed = False
        self.ids: dict[str, tuple[Path, tuple[int, int]]] = {}
        self.numbers: dict[tuple[int | None, int], Path] = {}
        self.id_places: list[tuple[str, Path, tuple[int, int]]] = []
        self.number_places: list[tuple[tuple[int | None, int], Path, tuple[int, int], str]] = []
        self.id_pattern = re.compile(
            schema.load_schema(schema.EPISODE)["properties"]["id"]["pattern"]
        )

    # Problems are appended in reading order; load_project_files sorts them.
    def add(
        self, path: Path, where: tuple[int, int], name: str, message: str, **extra: Any
    ) -> None:
        self.problems.append(Problem(path, where[0], where[1], name, message, **extra))

    def load_spec(self, path: Path) -> Episode | None:
        refused = self.refused_spec(path)
        if refused is not None:
            self.add(path, (1, 1), "", refused)
            if self.cache is not None:
                self.cache.discard(path)
            return None
        if self.cache is None:
            return self.check_spec(path, None)
        content = read_regular_file(path, MAX_FILE_BYTES)
        if content is None:
            self.cache.discard(path)
            return self.check_spec(path, None)
        digest = content_digest(content)
        entry = self.cache.get(path, digest)
        if entry is not None:
            episode = self.restore(path, entry)
            if episode is not None:
                return episode
        marks = (len(self.problems), len(self.id_places), len(self.number_places))
        episode = self.check_spec(path, content)
        added = self.problems[marks[0] :]
        if episode is None or _has_errors(added):
            self.cache.discard(path)
        else:
            ids = self.id_places[marks[1] :]
            numbers = self.number_places[marks[2] :]
            self.cache.put(path, digest, _cache_entry(episode, added, ids, numbers))
        return episode

    def refused_spec(self, path: Path) -> str | None:
        """Specs are regular files inside the project: a symbolic link (to /etc/passwd, to a
        spec of another show) is refused before it is read, like a `file:` source."""
        if path.is_symlink():
            return "the spec is a symbolic link; specs must be regular files inside the project"
        reason = _outside(path, self.config.root)
        if reason is not None:
            return f"the spec {reason}; specs must be inside the project"
        return None

    def restore(self, path: Path, entry: dict[str, Any]) -> Episode | None:
        """The episode a cache entry describes, or None to check the file again.

        `file:` sources are looked up again (the file may have gone); the entry's warnings and
        its places for the cross-file checks are added as a fresh check would add them.
        """
        try:
            raw = entry["raw"]
            source = raw["source"]
            kind, value = next(iter(source.items()))
            resolved = self.file_source(value, path) if kind == "file" else None
            if isinstance(resolved, str):
                return None  # a problem: the full check reports it with its position
            publish = _publish_from(raw.get("publish") or {})
            episode = _make_episode(
                raw["id"],
                path,
                self.make_source(kind, value, resolved),
                raw,
                entry["speaker_ids"],
                publish,
            )
            # Nearly every place is in the spec itself or in acbatch.yaml: reuse those paths.
            known = {str(path): path, str(self.config.path): self.config.path}
            warnings = [
                Problem(known.get(file) or Path(file), line, column, name, message, hint, "warning")
                for file, line, column, name, message, hint in entry["warnings"]
            ]
            ids = [
                (str(i), known.get(file) or Path(file), (line, column))
                for i, file, line, column in entry["ids"]
            ]
            numbers = [
                ((season, number), known.get(file) or Path(file), (line, column), name)
                for season, number, file, line, column, name in entry["numbers"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration):
            return None
        self.problems += warnings
        self.id_places += ids
        self.number_places += numbers
        return episode

    def save_cache(self, listed: list[Path] | None) -> None:
        """Write the cache; `listed`: every spec there is, so the others are forgotten.

        Nothing is written after the voice catalog failed to load: which spec happened to
        report that depends on the order of loading, not on the spec.
        """
        if self.cache is None or self.catalog_failed:
            return
        if listed is not None:
            self.cache.keep_only(listed)
        self.cache.save()

    def check_spec(self, path: Path, content: bytes | None) -> Episode | None:
        """Steps 1-5 for one spec (`content`: its bytes, when already read)."""
        try:
            document = read_yaml_file(path) if content is None else load_yaml_bytes(content, path)
        except YamlError as exc:
            self.add(path, (exc.line, exc.column), schema.format_field(exc.path), exc.message)
            return None
        if document.data is None:
            message = "spec is empty: it needs at least a source, e.g. `source: {text: ...}`"
            self.add(path, (1, 1), "source", message)
            return None
        found = schema.validate_document(schema.EPISODE, document, file=path)
        self.problems += found
        if not isinstance(document.data, dict):
            return None
        spec = _Spec(path, document, document.data)
        episode_id = self.episode_id(spec)
        # Fields the schema rejected are left out, so the remaining checks still run on the rest.
        broken = {_top_field(p.field) for p in found}
        misspelt = {p.suggestion for p in found if p.suggestion}
        episode = self.build(spec, episode_id, broken, misspelt)
        return None if found or episode_id is None else episode

    def episode_id(self, spec: _Spec) -> str | None:
        written = spec.data.get("id")
        if written is not None:
            if isinstance(written, str) and self.id_pattern.match(written):
                self.id_places.append((written, spec.path, spec.document.value_position(("id",))))
                return written
            return None  # the schema has reported it
        stem = spec.path.name.rsplit(".", 1)[0]
        if not self.id_pattern.match(stem):
            message = (
                f"the file name '{stem}' is not a valid episode id (1-80 lowercase letters, "
                "digits and hyphens): rename the file or set `id:` in it"
            )
            self.add(spec.path, (1, 1), "id", message)
            return None
        self.id_places.append((stem, spec.path, (1, 1)))
        return stem

    def locate(self, spec: _Spec, path: PathKey) -> tuple[Path, tuple[int, int], str]:
        """Where a merged field was written: the spec, else acbatch.yaml's defaults."""
        if _has_path(spec.data, path) or not _has_path(self.config.defaults, path):
            return spec.path, spec.document.value_position(path), schema.format_field(path)
        full = ("defaults", *path)
        return self.config.path, _config_position(self.config, full), schema.format_field(full)

    def problem_at(self, spec: _Spec, path: PathKey, message: str, **extra: Any) -> None:
        file, where, name = self.locate(spec, path)
        self.add(file, where, name, message, **extra)

    def build(
        self, spec: _Spec, episode_id: str | None, broken: set[str], misspelt: set[str]
    ) -> Episode | None:
        clean = {key: value for key, value in spec.data.items() if key not in broken}
        merged = deep_merge(self.config.defaults, clean)
        merged["id"] = episode_id
        problems_before = len(self.problems)
        if self.config.defaults_known:
            unexplained = broken | misspelt | self.config.invalid_defaults
            for name in REQUIRED_AFTER_DEFAULTS:
                if name not in merged and name not in unexplained:
                    message = (
                        f"missing required field '{name}': set it in the spec or under "
                        "`defaults:` in acbatch.yaml"
                    )
                    self.add(spec.path, spec.document.value_position(()), name, message)
        source = self.source(spec, merged["source"]) if "source" in merged else None
        publish = None if "publish" in broken else self.publish(spec, merged.get("publish") or {})
        overrides = merged.get("overrides")
        if isinstance(overrides, dict) and "overrides" not in broken:
            self.replace_rules(spec, overrides.get("replace") or [])
        speaker_ids = None
        if "speakers" in merged and "language" in merged:
            language = merged["language"]
            if language in codes.language_values():  # else the schema has said what is wrong
                language = codes.language_code(language)
            speaker_ids = self.speakers(spec, merged["speakers"], language)
        if (
            episode_id is None
            or broken
            or _has_errors(self.problems[problems_before:])
            or any(name not in merged for name in REQUIRED_AFTER_DEFAULTS)
            or source is None
            or publish is None
            or speaker_ids is None
        ):
            return None
        return _make_episode(episode_id, spec.path, source, merged, speaker_ids, publish)

    def source(self, spec: _Spec, source: dict[str, str]) -> Source | None:
        kind, value = next(iter(source.items()))
        if kind != "file":
            return Source(kind, value)
        resolved = self.file_source(value, spec.path)
        if isinstance(resolved, str):
            self.problem_at(spec, ("source", "file"), resolved)
            return None
        return self.make_source("file", value, resolved)

    def file_source(self, value: str, spec_path: Path) -> Path | str:
        return _file_source(
            value, spec_path, self.config.root, self.config.config.api.max_source_bytes
        )

    def make_source(self, kind: str, value: str, path: Path | None) -> Source:
        if kind != "file":
            return Source(kind, value, path)
        api = self.config.config.api
        return Source(kind, value, path, api.max_source_bytes, api.max_source_chars)

    def replace_rules(self, spec: _Spec, rules: list[Any]) -> None:
        """Each rule must run on RE2, and a regex must not be one that backtracks
        catastrophically (it would in any other tool the user copies it to)."""
        from acbatch.runner.bodies import ReplacementError, catastrophic_backtracking, compile_find

        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("find"), str):
                continue
            where = ("overrides", "replace", index, "find")
            try:
                compile_find(rule)
            except ReplacementError as exc:
                self.problem_at(spec, where, f"'{shorten(rule['find'])}': {exc}")
                continue
            if rule.get("regex"):
                found = catastrophic_backtracking(rule["find"])
                if found is not None:
                    message = (
                        f"'{shorten(rule['find'])}' has {found}, which backtracks "
                        "catastrophically on some text; write it without the nested repeat "
                        "(e.g. `a+` instead of `(a+)+`)"
                    )
                    self.problem_at(spec, where, message)

    def publish(self, spec: _Spec, data: dict[str, Any]) -> Publish | None:
        image = data.get("image")
        if (
            isinstance(image, str)
            and not image.lower().startswith(("http://", "https://"))
            and "\x00" not in image
            and not self.outside_allowed
        ):
            reason = _outside(self.config.config.paths.output / image, self.config.root)
            if reason is not None:
                message = f"'{shorten(image)}' {reason}; episode artwork must be inside it"
                self.problem_at(spec, ("publish", "image"), message)
        if data.get("episode") is not None:
            file, where, name = self.locate(spec, ("publish", "episode"))
            self.number_places.append(((data.get("season"), data["episode"]), file, where, name))
        try:
            return _publish_from(data)
        except ValueError as exc:
            message = f"'{shorten(data['date'])}' is not a real date: {exc}"
            self.problem_at(spec, ("publish", "date"), message)
            return None

    def speakers(
        self, spec: _Spec, speakers: list[int | str], language: str
    ) -> tuple[int, ...] | None:
        ids: list[int] = []
        ok = True
        for index, ref in enumerate(speakers):
            where = ("speakers", index)
            if isinstance(ref, int):
                ids.append(ref)
                voice = self.voice(ref) if self.catalog_available() else None
            elif ref.strip().isdigit():
                ids.append(int(ref.strip()))
                voice = self.voice(int(ref.strip())) if self.catalog_available() else None
            else:
                voice = self.named_voice(spec, where, ref)
                if voice is None:
                    ok = False
                    continue
                ids.append(voice.id)
            if (
                voice is not None
                and voice.language in codes.LANGUAGES
                and voice.language != language
            ):
                message = (
                    f"voice '{voice.name or voice.id}' ({schema.format_field(where)}) speaks "
                    f"{voice.language}, but the episode's language is {language}"
                )
                # Point at the episode's own choice: its language, else the voice it named.
                place = ("language",) if "language" in spec.data else where
                self.problem_at(spec, place, message, severity="warning")
        return tuple(ids) if ok else None

    def check_default_speakers(self) -> None:
        """Names in `defaults: speakers:` must exist even if every spec sets its own."""
        speakers = self.config.defaults.get("speakers")
        if not speakers or self.config.document is None:
            return
        for index, ref in enumerate(speakers):
            if isinstance(ref, str) and not ref.strip().isdigit():
                self.default_voice(("speakers", index), ref)

    def default_voice(self, where: PathKey, name: str) -> None:
        full = ("defaults", *where)
        position = _config_position(self.config, full)
        field_name = schema.format_field(full)
        if not self.catalog_available():
            message = self.no_catalog_message(name)
            self.add(self.config.path, position, field_name, message)
            return
        catalog = self.load_catalog()
        if catalog is None or catalog.find(name) is not None:
            return
        message, suggestion = self.unknown_voice(catalog, name)
        self.add(self.config.path, position, field_name, message, suggestion=suggestion)

    def no_catalog_message(self, name: str) -> str:
        return (
            f"'{shorten(name)}' is a voice name, but there is no voice catalog at "
            f"{self.catalog_shown()} to look it up: use numeric speaker ids, or save the "
            "voice list there"
        )

    def unknown_voice(self, catalog: VoiceCatalog, name: str) -> tuple[str, str | None]:
        names = catalog.names() + [v.display_name for v in catalog if v.display_name]
        message = f"no voice named '{shorten(name)}' in {self.catalog_shown()}"
        return message, did_you_mean(name, names)

    def catalog_available(self) -> bool:
        if self.catalog_exists is None:
            self.catalog_exists = self.config.config.paths.voices.is_file()
        return self.catalog_exists

    def voice(self, voice_id: int) -> Any:
        catalog = self.load_catalog()
        return catalog.by_id(voice_id) if catalog is not None else None

    def named_voice(self, spec: _Spec, where: PathKey, name: str) -> Any:
        if not self.catalog_available():
            self.problem_at(spec, where, self.no_catalog_message(name))
            return None
        catalog = self.load_catalog()
        if catalog is None:
            message = f"cannot look up '{shorten(name)}': {self.catalog_shown()} is not usable"
            self.problem_at(spec, where, message)
            return None
        voice = catalog.find(name)
        if voice is None:
            message, suggestion = self.unknown_voice(catalog, name)
            self.problem_at(spec, where, message, suggestion=suggestion)
        return voice

    def catalog_shown(self) -> str:
        return _display(self.config.config.paths.voices, self.config.root)

    def load_catalog(self) -> VoiceCatalog | None:
        if not self.catalog_loaded:
            self.catalog_loaded = True
            path = self.config.config.paths.voices
            try:
                self.catalog = VoiceCatalog.load(path)
            except CatalogError as exc:
                self.catalog_failed = True
                message = str(exc)
                prefix = f"{path}: "
                message = message[len(prefix) :] if message.startswith(prefix) else message
                self.add(path, (1, 1), "", f"voice catalog: {message}")
        return self.catalog

    def cross_file_problems(self) -> list[Problem]:
        problems = []
        first_id: dict[str, Path] = {}
        for episode_id, path, where in self.id_places:
            if episode_id in first_id:
                other = _display(first_id[episode_id], self.config.root)
                message = f"duplicate episode id '{episode_id}' (also used by {other})"
                problems.append(Problem(path, where[0], where[1], "id", message))
            else:
                first_id[episode_id] = path
        first_number: dict[tuple[int | None, int], Path] = {}
        for number, path, where, name in self.number_places:
            if number in first_number:
                season, episode = number
                label = f"season {season} episode {episode}" if season else f"episode {episode}"
                other = _display(first_number[number], self.config.root)
                message = f"{label} is already used by {other}"
                problems.append(Problem(path, where[0], where[1], name, message))
            else:
                first_number[number] = path
        return problems


def _default(*path: str) -> Any:
    return schema.field_default(schema.EPISODE, *path)


def _make_episode(
    episode_id: str,
    spec_path: Path,
    source: Source,
    merged: dict[str, Any],
    speaker_ids: Iterable[int],
    publish: Publish,
) -> Episode:
    """The Episode of a checked spec: `merged` is its data with the defaults merged in."""
    return Episode(
        id=episode_id,
        spec_path=spec_path,
        source=source,
        style=codes.style_code(merged["style"]),
        duration_level=codes.duration_level(merged["duration"]).level,
        language=codes.language_code(merged["language"]),  # names become codes
        speakers=tuple(merged["speakers"]),
        speaker_ids=tuple(speaker_ids),
        commercial_use=merged.get("commercial_use", _default("commercial_use")),
        use_mode=merged.get("use_mode", _default("use_mode")),
        title=merged.get("title"),
        description=merged.get("description"),
        publish=publish,
        overrides=merged.get("overrides") or {},
        review=merged.get("review", _default("review")),
        raw=merged,
    )


def _publish_from(data: dict[str, Any]) -> Publish:
    """A checked `publish:` mapping as a Publish; ValueError when its date is not a real one."""
    return Publish(
        date=parse_publish_date(data["date"]) if "date" in data else None,
        season=data.get("season"),
        episode=data.get("episode"),
        episode_type=data.get("episode_type", _default("publish", "episode_type")),
        explicit=data.get("explicit"),
        draft=data.get("draft", _default("publish", "draft")),
        image=data.get("image"),
        link=data.get("link"),
        keywords=tuple(data.get("keywords") or ()),
    )


def _file_source(value: str, spec_path: Path, root: Path, max_bytes: int) -> Path | str:
    """A `file:` source resolved inside the project, or what is wrong with it."""
    shown = shorten(value)
    if "\x00" in value:
        return f"'{shown}' contains a NUL character"
    written = Path(value)
    if written.is_absolute():
        return f"'{shown}' is an absolute path: give a path relative to the spec's folder"
    joined = spec_path.parent / written
    try:
        resolved = joined.resolve()
    except (OSError, RuntimeError, ValueError):
        return f"'{shown}' cannot be resolved (a symbolic link loop?)"
    if not resolved.is_relative_to(root):
        lexical = Path(os.path.normpath(joined.absolute()))
        if lexical.is_relative_to(root) or lexical.is_relative_to(spec_path.parent):
            reason = "leads outside the project folder through a symbolic link"
        else:
            reason = "is outside the project folder"
        return f"'{shown}' {reason}; source files must be inside it"
    if not resolved.exists():
        return f"file not found: {_display(resolved, root)}"
    if not resolved.is_file():
        return f"'{shown}' is not a regular file"
    from acbatch.sources import SourceError, check_source_file

    try:
        check_source_file(resolved, max_bytes=max_bytes)
    except SourceError as exc:
        return f"'{shown}': {str(exc).removeprefix(f'{resolved}: ')}"
    return resolved


def _cache_entry(
    episode: Episode,
    warnings: list[Problem],
    ids: list[tuple[str, Path, tuple[int, int]]],
    numbers: list[tuple[tuple[int | None, int], Path, tuple[int, int], str]],
) -> dict[str, Any]:
    """What the spec cache keeps of a valid spec: plain data only."""
    return {
        "raw": episode.raw,
        "speaker_ids": list(episode.speaker_ids),
        "warnings": [
            [str(p.file), p.line, p.column, p.field, p.message, p.suggestion] for p in warnings
        ],
        "ids": [[i, str(file), where[0], where[1]] for i, file, where in ids],
        "numbers": [
            [number[0], number[1], str(file), where[0], where[1], name]
            for number, file, where, name in numbers
        ],
    }


def _top_field(name: str) -> str:
    """'publish.date' -> 'publish'; 'speakers[1]' -> 'speakers'."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def _has_path(data: Any, path: PathKey) -> bool:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str) and part in data:
            data = data[part]
            continue
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            continue
        return False
    return True
