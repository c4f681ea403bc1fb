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

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.constants import CONFIG_NAME, REVIEW_SUFFIXES, SPEC_SUFFIXES
from acbatch.errors import ConfigError
from acbatch.project import schema
from acbatch.project.cache import SpecCache, content_digest, context_key, read_regular_file
from acbatch.project.model import (
    ApiSettings,
    AudioSettings,
    Episode,
    Funding,
    License,
    Owner,
    Paths,
    Polling,
    Problem,
    Project,
    Publish,
    ShowConfig,
    ShowInfo,
    ShowLanguage,
    Source,
    Spoken,
    Timeouts,
    language_episode_id,
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

REQUIRED_AFTER_DEFAULTS = ("style", "duration", "language", "speakers")
MATRIX_FIELDS = ("languages", "per_language")
"""The language matrix's own fields: they expand a spec, and are not part of any one episode."""
DEFAULT_SPEAKER_COUNT = 2
"""Voices a language of the matrix gets from the catalog when no speakers are inherited."""

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
    loader.check_hosts()
    episodes = []
    for spec_path in files:
        episodes += loader.load_spec(spec_path)
    episodes = _place_by_language(episodes)
    loader.save_cache(files if spec_paths is None else None)
    problems += loader.problems
    problems += loader.cross_file_problems()
    problems += _spoken_template_problems(config_read, episodes)
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: (str(p.file), p.line, p.column, p.field))
    project = Project(config_read.config, episodes, unique)
    return LoadResult(project, [config_path, *files])


def _place_by_language(episodes: list[Episode]) -> list[Episode]:
    """A show with a language matrix publishes one feed and site per language: every episode
    then goes to its language's folder (output/<code>/). Without one, nothing changes."""
    if not any(e.matrix for e in episodes):
        return episodes
    return [replace(e, output_language=e.language) for e in episodes]


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
        and not entry.name.endswith(REVIEW_SUFFIXES)
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
    problems += _pronunciation_problems(read, _section(data, "show"))
    problems += _show_language_problems(read, data)
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
    license_data = _section(show, "license")
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
        pronunciations=_pronunciations(show),
        spoken=Spoken().over(_section(show, "spoken")),
        hosts=tuple(host for host in show.get("hosts") or () if isinstance(host, int | str)),
        funding=tuple(
            Funding(entry["url"], entry["text"])
            for entry in show.get("funding") or ()
            if isinstance(entry, dict)
            and isinstance(entry.get("url"), str)
            and isinstance(entry.get("text"), str)
        ),
        license=License(_text(license_data, "name") or "", _text(license_data, "url"))
        if _text(license_data, "name")
        else None,
        medium=_text(show, "medium"),
        languages=_show_languages(show),
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


def _show_languages(show: dict[str, Any]) -> tuple[ShowLanguage, ...]:
    """`show.languages`, by language code (names normalised; unknown names left out: the
    config check reports them)."""
    found: dict[str, ShowLanguage] = {}
    for key, settings in _section(show, "languages").items():
        if key not in codes.language_values() or not isinstance(settings, dict):
            continue
        code = codes.language_code(key)
        found[code] = ShowLanguage(
            code=code,
            key=key,
            title=_text(settings, "title"),
            description=_text(settings, "description"),
            author=_text(settings, "author"),
            image=_text(settings, "image"),
            guid=_text(settings, "guid"),
        )
    return tuple(found.values())


def _show_language_problems(read: _ConfigRead, data: dict[str, Any]) -> list[Problem]:
    """Keys of `show.languages` must be languages the API speaks, written as `language:`
    accepts them; and a language's artwork, like the show's, must be inside the project."""
    problems = []
    for key, settings in _section(_section(data, "show"), "languages").items():
        if key not in codes.language_values():
            line, column = _config_position(read, ("show", "languages", key))
            suggestion = did_you_mean(str(key), codes.language_values())
            message = (
                f"'{shorten(str(key))}' is not a language the API speaks: use a code, an "
                f"English name or its own name ({', '.join(codes.LANGUAGES)})"
            )
            problems.append(
                Problem(read.path, line, column, f"show.languages.{key}", message, suggestion)
            )
            continue
        image = settings.get("image") if isinstance(settings, dict) else None
        if (
            isinstance(image, str)
            and not read.outside_allowed
            and not image.lower().startswith(("http://", "https://"))
            and "\x00" not in image
        ):
            reason = _outside(read.root / image, read.root)
            if reason is not None:
                line, column = _config_position(read, ("show", "languages", key, "image"))
                message = f"'{shorten(image)}' {reason}; artwork must be inside the project"
                field_name = f"show.languages.{key}.image"
                problems.append(Problem(read.path, line, column, field_name, message))
    return problems


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
    pending: list[tuple[str | Path, int]] = [(folder, 1)]
    deepest = _SCAN_DEPTH.get(name, 0)
    seen = 0
    while pending and seen < _SCAN_LIMIT:
        current, depth = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.is_symlink():
                # In specs/, spec files and `file:` sources are checked one by one where used.
                checked = name == "specs" and not entry.name.endswith(REVIEW_SUFFIXES)
                if not checked and _outside(Path(entry.path), root) is not None:
                    found.append(Path(entry.path))
            elif depth < deepest and entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, depth + 1))
    return sorted(found)


def _replace_rule_problem(rule: Any) -> str | None:
    """What is wrong with a find/replace rule the schema accepted: it must run on RE2, and a
    regex must not be one that backtracks catastrophically (it would in any other tool the
    user copies it to)."""
    from acbatch.runner.backtracking import catastrophic_backtracking
    from acbatch.runner.bodies import ReplacementError, compile_find

    if not isinstance(rule, dict) or not isinstance(rule.get("find"), str):
        return None
    try:
        compile_find(rule)
    except ReplacementError as exc:
        return f"'{shorten(rule['find'])}': {exc}"
    found = catastrophic_backtracking(rule["find"]) if rule.get("regex") else None
    if found is None:
        return None
    return (
        f"'{shorten(rule['find'])}' has {found}, which backtracks catastrophically on some "
        "text; write it without the nested repeat (e.g. `a+` instead of `(a+)+`)"
    )


def _pronunciation_problems(read: _ConfigRead, show: dict[str, Any]) -> list[Problem]:
    """The show's dictionary rules, checked like an episode's `overrides.replace`."""
    problems = []
    for language, rules in _section(show, "pronunciations").items():
        for index, rule in enumerate(rules if isinstance(rules, list) else ()):
            message = _replace_rule_problem(rule)
            if message is not None:
                where = ("show", "pronunciations", language, index, "find")
                line, column = _config_position(read, where)
                problems.append(
                    Problem(read.path, line, column, schema.format_field(where), message)
                )
    return problems


def _spoken_template_problems(read: _ConfigRead, episodes: list[Episode]) -> list[Problem]:
    """The spoken intro and outro templates, rendered once per language in use: a template
    that fails is reported now, not when an episode's audio is about to be paid for."""
    from acbatch.publish.errors import TemplateError
    from acbatch.runner.bodies import SPOKEN_TEMPLATES, episode_spoken, spoken_values

    config = read.config
    tried: set[tuple[str, str]] = set()
    problems: list[Problem] = []
    templates = None
    for episode in episodes:
        spoken = episode_spoken(episode, config)
        for part, name in SPOKEN_TEMPLATES:
            if not getattr(spoken, part) or (name, episode.language) in tried:
                continue
            tried.add((name, episode.language))
            if templates is None:
                from acbatch.publish.templating import Templates

                templates = Templates(config.paths.templates)
            values = spoken_values(episode, config, episode.title or "Title")
            try:
                templates.render(name, **values)
            except TemplateError as exc:
                where = ("show", "spoken", part)
                line, column = _config_position(read, where)
                message = f"the {part} template cannot be rendered: {exc}"
                problems.append(
                    Problem(read.path, line, column, schema.format_field(where), message)
                )
    return problems


def _pronunciations(show: dict[str, Any]) -> dict[str, tuple[dict[str, Any], ...]]:
    """`show.pronunciations` keyed by language code (names become codes), rules as written."""
    found: dict[str, tuple[dict[str, Any], ...]] = {}
    for language, rules in _section(show, "pronunciations").items():
        if language not in codes.language_values() or not isinstance(rules, list):
            continue  # the schema has said what is wrong
        code = codes.language_code(language)
        kept = tuple(rule for rule in rules if isinstance(rule, dict) and "find" in rule)
        found[code] = found.get(code, ()) + kept
    return found


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
        elif path.resolve() == config.path.resolve() or path.name.endswith(REVIEW_SUFFIXES):
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


_NumberKey = tuple[int | None, int, str | None]
"""(season, episode number, the language feed it is in: None for the show's one feed)."""


@dataclass
class _LanguageBlocks:
    """`per_language:` blocks by language code, and the keys they were written under."""

    merged: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    """code -> {"spec" or "defaults": the key as written (ja, Japanese, 日本語)}."""

    def written(self, language: str | None) -> tuple[str | None, str | None]:
        """(the spec's key, the defaults' key) of a language's block, for error positions."""
        if language is None or language not in codes.language_values():
            return None, None
        keys = self.keys.get(codes.language_code(language), {})
        return keys.get("spec"), keys.get("defaults")


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
        self.catalog_loaded = False
        self.catalog_exists: bool | None = None
        self.catalog_failed = False
        self.ids: dict[str, tuple[Path, tuple[int, int]]] = {}
        self.id_places: list[tuple[str, Path, tuple[int, int]]] = []
        self.block: tuple[str | None, str | None] = (None, None)
        """While one language's episode is built: its per_language keys (spec, defaults)."""
        self.number_places: list[tuple[_NumberKey, Path, tuple[int, int], str]] = []
        self.id_pattern = re.compile(
            schema.load_schema(schema.EPISODE)["properties"]["id"]["pattern"]
        )

    # Problems are appended in reading order; load_project_files sorts them.
    def add(
        self, path: Path, where: tuple[int, int], name: str, message: str, **extra: Any
    ) -> None:
        self.problems.append(Problem(path, where[0], where[1], name, message, **extra))

    def load_spec(self, path: Path) -> list[Episode]:
        """The spec's episodes: one, or one per language of its language matrix; none when
        it has errors."""
        refused = self.refused_spec(path)
        if refused is not None:
            self.add(path, (1, 1), "", refused)
            if self.cache is not None:
                self.cache.discard(path)
            return []
        if self.cache is None:
            return self.check_spec(path, None)
        content = read_regular_file(path, MAX_FILE_BYTES)
        if content is None:
            self.cache.discard(path)
            return self.check_spec(path, None)
        digest = content_digest(content)
        entry = self.cache.get(path, digest)
        if entry is not None:
            restored = self.restore(path, entry)
            if restored is not None:
                return restored
        marks = (len(self.problems), len(self.id_places), len(self.number_places))
        episodes = self.check_spec(path, content)
        added = self.problems[marks[0] :]
        if not episodes or _has_errors(added):
            self.cache.discard(path)
        else:
            ids = self.id_places[marks[1] :]
            numbers = self.number_places[marks[2] :]
            self.cache.put(path, digest, _cache_entry(episodes, added, ids, numbers))
        return episodes

    @functools.cached_property
    def confined_specs_folder(self) -> Path | None:
        """The specs folder when it resolves inside the project (resolved once, not per spec)."""
        folder = self.config.config.paths.specs
        return folder if _outside(folder, self.config.root) is None else None

    def refused_spec(self, path: Path) -> str | None:
        """Specs are regular files inside the project: a symbolic link (to /etc/passwd, to a
        spec of another show) is refused before it is read, like a `file:` source."""
        if path.is_symlink():
            return "the spec is a symbolic link; specs must be regular files inside the project"
        if path.parent == self.confined_specs_folder:
            return None  # not a link, in a folder that resolves inside the project
        reason = _outside(path, self.config.root)
        if reason is not None:
            return f"the spec {reason}; specs must be inside the project"
        return None

    def restore(self, path: Path, entry: dict[str, Any]) -> list[Episode] | None:
        """The episodes a cache entry describes, or None to check the file again.

        `file:` sources are looked up again (the file may have gone); the entry's warnings and
        its places for the cross-file checks are added as a fresh check would add them.
        """
        try:
            episodes = []
            for saved in entry["episodes"]:
                raw = saved["raw"]
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
                    saved["speaker_ids"],
                    publish,
                    spec_id=str(saved["spec_id"]),
                    matrix=tuple(saved["matrix"]),
                )
                episodes.append(episode)
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
                ((season, number, feed), known.get(file) or Path(file), (line, column), name)
                for season, number, feed, file, line, column, name in entry["numbers"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration):
            return None
        self.problems += warnings
        self.id_places += ids
        self.number_places += numbers
        return episodes

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

    def check_spec(self, path: Path, content: bytes | None) -> list[Episode]:
        """Steps 1-5 for one spec (`content`: its bytes, when already read)."""
        try:
            document = read_yaml_file(path) if content is None else load_yaml_bytes(content, path)
        except YamlError as exc:
            self.add(path, (exc.line, exc.column), schema.format_field(exc.path), exc.message)
            return []
        if document.data is None:
            message = "spec is empty: it needs at least a source, e.g. `source: {text: ...}`"
            self.add(path, (1, 1), "source", message)
            return []
        found = schema.validate_document(schema.EPISODE, document, file=path)
        self.problems += found
        if not isinstance(document.data, dict):
            return []
        spec = _Spec(path, document, document.data)
        episode_id = self.episode_id(spec)
        # Fields the schema rejected are left out, so the remaining checks still run on the rest.
        broken = {_top_field(p.field) for p in found}
        misspelt = {p.suggestion for p in found if p.suggestion}
        episodes = self.build(spec, episode_id, broken, misspelt)
        return [] if found or episode_id is None else episodes

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
        """Where a merged field was written: the language's own block (the spec's, then the
        defaults'), else the spec, else acbatch.yaml's defaults."""
        spec_key, default_key = self.block
        if spec_key is not None and _has_path(spec.data, ("per_language", spec_key, *path)):
            inside = ("per_language", spec_key, *path)
            return spec.path, spec.document.value_position(inside), schema.format_field(inside)
        if default_key is not None:
            inside = ("defaults", "per_language", default_key, *path)
            if _has_path(self.config.defaults, inside[1:]):
                where = _config_position(self.config, inside)
                return self.config.path, where, schema.format_field(inside)
        if _has_path(spec.data, path) or not _has_path(self.config.defaults, path):
            return spec.path, spec.document.value_position(path), schema.format_field(path)
        full = ("defaults", *path)
        return self.config.path, _config_position(self.config, full), schema.format_field(full)

    def problem_at(self, spec: _Spec, path: PathKey, message: str, **extra: Any) -> None:
        file, where, name = self.locate(spec, path)
        self.add(file, where, name, message, **extra)

    def build(
        self, spec: _Spec, episode_id: str | None, broken: set[str], misspelt: set[str]
    ) -> list[Episode]:
        clean = {key: value for key, value in spec.data.items() if key not in broken}
        merged = deep_merge(self.config.defaults, clean)
        merged["id"] = episode_id
        problems_before = len(self.problems)
        codes_found = self.matrix(spec, merged, clean)
        blocks = self.language_blocks(spec, clean, codes_found, "per_language" in broken)
        for name in MATRIX_FIELDS:
            merged.pop(name, None)
        is_matrix = codes_found is not None and len(codes_found) > 1
        if codes_found is not None and len(codes_found) == 1:
            merged["language"] = codes_found[0]  # a matrix of one: the same as `language:`
        if self.config.defaults_known:
            unexplained = broken | misspelt | self.config.invalid_defaults
            for name in REQUIRED_AFTER_DEFAULTS:
                if is_matrix and name in ("language", "speakers"):
                    continue  # each language is given; speakers default to its catalog voices
                if name not in merged and name not in unexplained:
                    message = (
                        f"missing required field '{name}': set it in the spec or under "
                        "`defaults:` in acbatch.yaml"
                    )
                    self.add(spec.path, spec.document.value_position(()), name, message)
        source = self.source(spec, merged["source"]) if "source" in merged else None
        if is_matrix:
            assert codes_found is not None
            languages = tuple(codes_found)
            built = [
                self.build_language(spec, episode_id, merged, code, blocks, languages, broken)
                for code in languages
            ]
        else:
            language = merged.get("language")
            if isinstance(language, str) and language in codes.language_values():
                code = codes.language_code(language)
                if code in blocks.merged:
                    merged = deep_merge(merged, blocks.merged[code])
            self.block = blocks.written(language if isinstance(language, str) else None)
            built = [self.build_one(spec, episode_id, merged, broken, None)]
            self.block = (None, None)
        if (
            episode_id is None
            or broken
            or _has_errors(self.problems[problems_before:])
            or source is None
            or any(part is None for part in built)
        ):
            return []
        return [
            _make_episode(
                str(data["id"]),
                spec.path,
                source,
                data,
                speaker_ids,
                publish,
                spec_id=episode_id if is_matrix else "",
                matrix=tuple(codes_found or ()) if is_matrix else (),
            )
            for data, speaker_ids, publish in (part for part in built if part is not None)
        ]

    def build_one(
        self,
        spec: _Spec,
        episode_id: str | None,
        merged: dict[str, Any],
        broken: set[str],
        feed: str | None,
    ) -> tuple[dict[str, Any], tuple[int, ...], Publish] | None:
        """One episode's checks past the schema: publish, replace rules, speakers."""
        publish = (
            None if "publish" in broken else self.publish(spec, merged.get("publish") or {}, feed)
        )
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
            or any(name not in merged for name in REQUIRED_AFTER_DEFAULTS)
            or publish is None
            or speaker_ids is None
        ):
            return None
        return merged, speaker_ids, publish

    def build_language(
        self,
        spec: _Spec,
        episode_id: str | None,
        base: dict[str, Any],
        code: str,
        blocks: _LanguageBlocks,
        languages: tuple[str, ...],
        broken: set[str],
    ) -> tuple[dict[str, Any], tuple[int, ...], Publish] | None:
        """One language of a spec's matrix: its per-language block over the rest, its id
        `<id>.<code>`, and speakers of its language."""
        block = blocks.merged.get(code, {})
        merged = deep_merge(base, block)
        merged["language"] = code
        merged["id"] = language_episode_id(str(episode_id), code)
        self.block = blocks.written(code)
        try:
            if "speakers" not in block:
                inherited = base.get("speakers")
                if not inherited or not self.all_speak(inherited, code):
                    count = len(inherited) if inherited else DEFAULT_SPEAKER_COUNT
                    chosen = self.catalog_speakers(spec, code, count, languages.index(code))
                    if chosen is None:
                        return None
                    merged["speakers"] = chosen
            return self.build_one(spec, episode_id, merged, broken, code)
        finally:
            self.block = (None, None)

    def matrix(
        self, spec: _Spec, merged: dict[str, Any], clean: dict[str, Any]
    ) -> list[str] | None:
        """The language codes of the spec's `languages:` (in order, once each), or None when
        it has none: a spec's own `language:` wins over `languages:` in `defaults:`."""
        if "language" in clean and "languages" in clean:
            message = (
                "set either `language` (one language) or `languages` (a language matrix), not both"
            )
            self.problem_at(spec, ("languages",), message)
            return None
        if "language" in clean:
            return None
        written = merged.get("languages")
        if not isinstance(written, list):
            return None
        found = [codes.language_code(v) for v in written if v in codes.language_values()]
        if len(found) != len(written):
            return None  # the schema has said which entry is not a language
        return list(dict.fromkeys(found)) or None

    def language_blocks(
        self,
        spec: _Spec,
        clean: dict[str, Any],
        matrix: list[str] | None,
        spec_broken: bool,
    ) -> _LanguageBlocks:
        """`per_language:` of acbatch.yaml's defaults and of the spec, merged by language code
        (the spec's over the defaults'). A spec's block for a language the episode is not made
        in is an error: it would silently do nothing."""
        blocks = _LanguageBlocks()
        for origin, data in (("defaults", self.config.defaults), ("spec", clean)):
            found = data.get("per_language") if not (origin == "spec" and spec_broken) else None
            if not isinstance(found, dict):
                continue
            for key, block in found.items():
                if key not in codes.language_values() or not isinstance(block, dict):
                    continue  # the schema has reported it
                code = codes.language_code(key)
                blocks.merged[code] = deep_merge(blocks.merged.get(code, {}), block)
                blocks.keys.setdefault(code, {})[origin] = key
                if origin != "spec":
                    continue
                made_in = matrix or []
                if not matrix:
                    language = clean.get("language", self.config.defaults.get("language"))
                    if isinstance(language, str) and language in codes.language_values():
                        made_in = [codes.language_code(language)]
                if made_in and code not in made_in:
                    message = (
                        f"'{shorten(key)}' is not one of this episode's languages "
                        f"({', '.join(made_in)}): add it to `languages`, or remove this block"
                    )
                    where = spec.document.key_position(("per_language", key))
                    self.add(spec.path, where, f"per_language.{key}", message)
        return blocks

    def all_speak(self, speakers: list[Any], code: str) -> bool:
        """Whether no voice of `speakers` is known to speak another language than `code`."""
        if not self.catalog_available():
            return True
        catalog = self.load_catalog()
        if catalog is None:
            return True
        for ref in speakers:
            ref_key: int | str = ref
            if isinstance(ref, str) and ref.strip().isdigit():
                ref_key = int(ref.strip())
            voice = catalog.find(ref_key)
            if voice is not None and voice.language in codes.LANGUAGES and voice.language != code:
                return False
        return True

    def catalog_speakers(
        self, spec: _Spec, code: str, count: int, index: int
    ) -> list[int | str] | None:
        """The first `count` catalog voices of language `code`, or None after an error at
        that language's entry in `languages`."""
        catalog = self.load_catalog() if self.catalog_available() else None
        voices = catalog.filter(language=code) if catalog is not None else []
        if voices:
            return [v.name or v.id for v in voices[:count]]
        name = codes.LANGUAGES.get(code, code)
        message = (
            f"no voice in {self.catalog_shown()} speaks {name} ({code}), so the {code} episode "
            f"has no speakers: give them under `per_language: {{{code}: {{speakers: [...]}}}}`"
            f" (`acbatch voices --language {code}` lists the voices)"
        )
        self.block = (None, None)
        self.problem_at(spec, ("languages", index), message)
        return None

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
        for index, rule in enumerate(rules):
            message = _replace_rule_problem(rule)
            if message is not None:
                self.problem_at(spec, ("overrides", "replace", index, "find"), message)

    def publish(self, spec: _Spec, data: dict[str, Any], feed: str | None) -> Publish | None:
        """`feed`: the language feed the episode is numbered in (None: the show's one feed)."""
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
            number = (data.get("season"), data["episode"], feed)
            self.number_places.append((number, file, where, name))
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

    def check_hosts(self) -> None:
        """`show.hosts` names voices of the catalog (they become podcast:person)."""
        if self.config.document is None:
            return
        for index, ref in enumerate(self.config.config.show.hosts):
            if isinstance(ref, str) and not ref.strip().isdigit():
                self.default_voice(("hosts", index), ref, section="show")

    def default_voice(self, where: PathKey, name: str, section: str = "defaults") -> None:
        full = (section, *where)
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
        first_number: dict[_NumberKey, Path] = {}
        for number, path, where, name in self.number_places:
            if number in first_number:
                season, episode, feed = number
                label = f"season {season} episode {episode}" if season else f"episode {episode}"
                if feed is not None:
                    label += f" of the {feed} feed"
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
    *,
    spec_id: str = "",
    matrix: tuple[str, ...] = (),
) -> Episode:
    """The Episode of a checked spec: `merged` is its data with the defaults merged in (and
    for one language of a matrix, that language's block)."""
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
        spec_id=spec_id,
        matrix=matrix,
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
    episodes: list[Episode],
    warnings: list[Problem],
    ids: list[tuple[str, Path, tuple[int, int]]],
    numbers: list[tuple[_NumberKey, Path, tuple[int, int], str]],
) -> dict[str, Any]:
    """What the spec cache keeps of a valid spec: plain data only."""
    return {
        "episodes": [
            {
                "raw": episode.raw,
                "speaker_ids": list(episode.speaker_ids),
                "spec_id": episode.spec_id,
                "matrix": list(episode.matrix),
            }
            for episode in episodes
        ],
        "warnings": [
            [str(p.file), p.line, p.column, p.field, p.message, p.suggestion] for p in warnings
        ],
        "ids": [[i, str(file), where[0], where[1]] for i, file, where in ids],
        "numbers": [
            [number[0], number[1], number[2], str(file), where[0], where[1], name]
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
