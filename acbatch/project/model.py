"""Typed views of a loaded project: the show config and its episodes.

Loading (acbatch.project.loader) turns YAML files into these objects after validation; everything
downstream (plan, runner, publishing) works on them, never on raw YAML.
"""

from __future__ import annotations

import os
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
class ShowInfo:
    title: str
    description: str
    author: str
    language: str
    base_url: str
    owner: Owner | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None
    explicit: bool = False
    link: str | None = None
    copyright: str | None = None
    type: str = "episodic"
    locked: bool = True
    guid: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    download: float = 900.0
    feed_check: float = 30.0


@dataclass(frozen=True)
class Polling:
    initial: float = 2.0
    max_interval: float = 30.0
    deadline: float = 3600.0


@dataclass(frozen=True)
class ApiSettings:
    base_url: str | None = None
    jobs: int = 4
    max_credits: int | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    polling: Polling = field(default_factory=Polling)
    retries: int = 8
    download_max_bytes: int = 500 * 1024 * 1024
    max_attempts: int = 2
    budget_monthly: int | None = None
    budget_total: int | None = None
    max_answer_bytes: int = 8 * 1024 * 1024
    max_field_chars: int = 2_000_000
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_chars: int = 1_000_000


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Publish:
    date: datetime | None = None
    """Timezone-aware; None means 'when first published' (the audio's download time)."""
    season: int | None = None
    episode: int | None = None
    episode_type: str = "full"
    explicit: bool | None = None
    draft: bool = False
    image: str | None = None
    link: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
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
    commercial_use: bool = False
    use_mode: str = "ai"
    title: str | None = None
    description: str | None = None
    publish: Publish = field(default_factory=Publish)
    overrides: dict[str, Any] = field(default_factory=dict)
    review: str = "auto"
    raw: dict[str, Any] = field(default_factory=dict)
    review_folder: Path | None = None
    """Where review files go when not beside the spec (the sandbox workspace's own)."""
    """The merged spec mapping, as plain data (for fingerprints and templates)."""

    @property
    def draft(self) -> bool:
        return self.publish.draft

    @property
    def script_review_path(self) -> Path:
        return (self.review_folder or self.spec_path.parent) / f"{self.id}.script.yaml"

    @property
    def previous_review_path(self) -> Path:
        """Where a review file replaced by a new script is kept, edits and all."""
        return (self.review_folder or self.spec_path.parent) / f"{self.id}.previous.script.yaml"


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
