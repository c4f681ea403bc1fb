"""Typed views of a loaded project: the show config and its episodes.

Loading (acbatch.project.loader) turns YAML files into these objects after validation; everything
downstream (plan, runner, publishing) works on them, never on raw YAML.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One user-facing error (or warning) about one place in one file."""

    file: Path
    line: int
    column: int
    field: str
    message: str
    suggestion: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        return format_problem(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "suggestion": self.suggestion,
            "severity": self.severity,
        }


def display_path(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to the current folder when it is inside it, else as given."""
    base = cwd or Path.cwd()
    try:
        return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def format_problem(problem: Problem, cwd: Path | None = None) -> str:
    """The one way a problem is shown, by every command and in every error message:

    `file:line:column: field.path: message (did you mean 'x'?)`, the file relative to the
    current folder when it is inside it, no field for a problem about the whole file, and
    `warning: ` before the message of a warning.
    """
    from acbatch.redact import redact

    where = f"{display_path(problem.file, cwd)}:{problem.line}:{problem.column}"
    label = "warning: " if problem.severity == "warning" else ""
    field_name = f"{problem.field}: " if problem.field else ""
    text = f"{where}: {field_name}{label}{problem.message}"
    if problem.suggestion:
        text += f" (did you mean '{problem.suggestion}'?)"
    # File names and values come from the user's files: no terminal controls or bidi overrides.
    return redact(text)


@dataclass(frozen=True)
class Owner:
    name: str
    email: str


@dataclass(frozen=True)
class Spoken:
    """Spoken intro and outro turns (the show's `spoken:`, or an episode's over it)."""

    intro: bool = False
    outro: bool = False
    speaker: str | None = None
    """The script role that speaks them; None: the role of the script's first turn."""

    def over(self, episode: dict[str, Any] | None) -> Spoken:
        """These settings with an episode's own `spoken:` mapping on top."""
        if not episode:
            return self
        return Spoken(
            intro=bool(episode.get("intro", self.intro)),
            outro=bool(episode.get("outro", self.outro)),
            speaker=episode.get("speaker", self.speaker),
        )


@dataclass(frozen=True)
class Funding:
    url: str
    text: str


@dataclass(frozen=True)
class License:
    name: str
    url: str | None = None


@dataclass(frozen=True)
class ShowLanguage:
    """`show.languages.<code>`: one language's feed and site settings (None: the show's own)."""

    code: str
    """The API's language code (names are normalised: Japanese, 日本語 -> ja)."""
    key: str = ""
    """The key as written under show.languages (for the positions of problems)."""
    title: str | None = None
    description: str | None = None
    author: str | None = None
    image: str | None = None
    guid: str | None = None


@dataclass(frozen=True)
class ShowInfo:
    title: str
    description: str
    author: str
    language: str
    base_url: str
    explicit: bool
    type: str
    locked: bool
    owner: Owner | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None
    link: str | None = None
    copyright: str | None = None
    guid: str | None = None
    keywords: tuple[str, ...] = ()
    pronunciations: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    """The pronunciation dictionary: language code -> find/replace rules."""
    spoken: Spoken = field(default_factory=Spoken)
    hosts: tuple[int | str, ...] = ()
    """Voice names or speaker ids of the hosts; empty: every speaker is a host."""
    funding: tuple[Funding, ...] = ()
    license: License | None = None
    medium: str | None = None
    languages: tuple[ShowLanguage, ...] = ()
    """Per-language settings for a show published in several languages (show.languages)."""

    def in_language(self, code: str) -> ShowLanguage:
        """The settings `show.languages` gives language `code` (all None when none)."""
        return next((s for s in self.languages if s.code == code), ShowLanguage(code))


# The fields the schemas give a default have none here: a loaded project has every value, and
# acbatch.project.defaults builds the rest from the schemas (tests/test_one_source.py).


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float
    download: float
    feed_check: float


@dataclass(frozen=True)
class Polling:
    initial: float
    max_interval: float
    deadline: float


@dataclass(frozen=True)
class ApiSettings:
    jobs: int
    timeouts: Timeouts
    polling: Polling
    retries: int
    download_max_bytes: int
    max_attempts: int
    max_answer_bytes: int
    max_field_chars: int
    max_source_bytes: int
    max_source_chars: int
    base_url: str | None = None
    max_credits: int | None = None
    budget_monthly: int | None = None
    budget_total: int | None = None


@dataclass(frozen=True)
class Paths:
    """Absolute project paths (relative entries in acbatch.yaml are resolved against its folder)."""

    root: Path
    config: Path
    specs: Path
    state: Path
    output: Path
    templates: Path
    voices: Path


@dataclass(frozen=True)
class AudioSettings:
    """acbatch.yaml's `audio:` block: how every published episode is mastered."""

    crossfade: float
    """Seconds each jingle overlaps the speech."""
    loudness_target: float | None
    """Integrated loudness in LUFS; None when `loudness: off`."""
    true_peak: float
    """The true-peak ceiling in dBTP (used only with a loudness target)."""
    intro: Path | None = None
    """Absolute path of the intro jingle."""
    outro: Path | None = None


def schema_audio_settings() -> AudioSettings:
    """`audio:` as the schema's defaults make it when acbatch.yaml says nothing."""
    from acbatch.project.schema import SHOW, field_default

    loudness = field_default(SHOW, "audio", "loudness")
    return AudioSettings(
        crossfade=float(field_default(SHOW, "audio", "crossfade")),
        loudness_target=float(loudness["target"]),
        true_peak=float(loudness["true_peak"]),
    )


@dataclass(frozen=True)
class ShowConfig:
    show: ShowInfo
    defaults: dict[str, Any]
    api: ApiSettings
    paths: Paths
    audio: AudioSettings = field(default_factory=schema_audio_settings)


@dataclass(frozen=True, slots=True)
class Source:
    kind: str
    """One of text, url, youtube, attachment, file."""
    value: str
    """The text, the URL, or the path as written in the spec."""
    path: Path | None = None
    """For `file`: the resolved absolute path."""
    max_bytes: int | None = None
    max_chars: int | None = None
    """For `file`: acbatch.yaml's source limits (None: the built-in defaults)."""


@dataclass(frozen=True, slots=True)
class Publish:
    episode_type: str
    draft: bool
    date: datetime | None = None
    """Timezone-aware; None means 'when first published' (the audio's download time)."""
    season: int | None = None
    episode: int | None = None
    explicit: bool | None = None
    image: str | None = None
    link: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Episode:
    """One validated episode, defaults merged and names normalised to API codes."""

    id: str
    spec_path: Path
    source: Source
    style: int
    duration_level: int
    """The API's duration level (1-7), not seconds."""
    language: str
    speakers: tuple[int | str, ...]
    """As written: ids or catalog names."""
    speaker_ids: tuple[int, ...]
    """Resolved numeric ids, in order."""
    commercial_use: bool
    use_mode: str
    review: str
    publish: Publish
    title: str | None = None
    description: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    """The merged spec mapping, as plain data (for fingerprints and templates)."""
    review_folder: Path | None = None
    """Where review files go when not beside the spec (the sandbox workspace's own)."""
    spec_id: str = ""
    """The spec's own id: `id` itself, or for one language of a matrix `id` without `.<code>`."""
    matrix: tuple[str, ...] = ()
    """The language codes of the spec's language matrix (empty: a single-language episode)."""
    output_language: str | None = None
    """Set when the show is published per language: the language folder (output/<code>/)
    whose feed and site carry this episode."""

    @property
    def base_id(self) -> str:
        """The id a selector names for every language of the episode."""
        return self.spec_id or self.id

    @property
    def draft(self) -> bool:
        return self.publish.draft

    @property
    def script_review_path(self) -> Path:
        return self.review_path_for(self.id)

    def review_path_for(self, episode_id: str) -> Path:
        """Where this episode's review file is, or was under an earlier id (`tide-pools` for
        `tide-pools.en`: see acbatch.runner.state.StateStore.load_or_carry)."""
        return (self.review_folder or self.spec_path.parent) / f"{episode_id}.script.yaml"

    @property
    def previous_review_path(self) -> Path:
        """Where a review file replaced by a new script is kept, edits and all."""
        return (self.review_folder or self.spec_path.parent) / f"{self.id}.previous.script.yaml"


LANGUAGE_ID_SEPARATOR = "."
"""Between a spec's id and a language code in the ids of a language matrix: `tide-pools.ja`
(spec ids cannot hold a dot, so these never clash with one)."""


def language_episode_id(spec_id: str, code: str) -> str:
    """One language of a matrix: `tide-pools` + `ja` -> `tide-pools.ja`."""
    return f"{spec_id}{LANGUAGE_ID_SEPARATOR}{code}"


def spec_id_of(episode_id: str) -> str:
    """The spec id an episode id or selector belongs to: `tide-pools.ja` -> `tide-pools`."""
    return episode_id.split(LANGUAGE_ID_SEPARATOR, 1)[0]


@dataclass
class Project:
    config: ShowConfig
    episodes: list[Episode]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def episode(self, episode_id: str) -> Episode | None:
        return next((e for e in self.episodes if e.id == episode_id), None)

    @property
    def output_languages(self) -> list[str]:
        """The language folders the show publishes, in first-seen order (empty: one feed)."""
        found = (e.output_language for e in self.episodes if e.output_language)
        return list(dict.fromkeys(found))

    def resolve_ids(self, selectors: Iterable[str]) -> tuple[list[str], list[str]]:
        """Episode selectors -> (the episode ids they name, in order, once each; the selectors
        naming none). A selector is an episode id (`tide-pools.ja`), or the id of a spec with a
        language matrix (`tide-pools`), which names every language of it. The one place
        commands turn what the user typed into episodes."""
        ids: list[str] = []
        missing: list[str] = []
        for selector in selectors:
            named = [e.id for e in self.episodes if e.id == selector] or [
                e.id for e in self.episodes if e.matrix and e.base_id == selector
            ]
            if not named:
                missing.append(selector)
            ids += named
        return list(dict.fromkeys(ids)), missing
