"""The review gate: a script the user reads, edits and approves before the audio is paid for.

For an episode with `review: required`, the runner writes `specs/<id>.script.yaml` after step 1
and stops. Setting `approved: true` in that file (by hand, in a pull request, or with
`acbatch approve ID`) lets the next run synthesize the edited script, after it passes
schemas/script.schema.json.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from acbatch.errors import UserError
from acbatch.runner.state import EpisodeState
from acbatch.spec.model import Episode
from acbatch.store import atomic_write_text

_APPROVED_LINE = re.compile(r"^approved:\s*(false|no|off)\s*(#.*)?$", re.MULTILINE)


class ReviewError(UserError):
    """The review file is missing or does not pass its schema."""


def _validator() -> Draft202012Validator:
    from acbatch.spec.schema import load_schema

    return Draft202012Validator(load_schema("script"))


def _schema_ref(path: Path) -> str:
    """A relative path to the project's copy of the schema when there is one, else its URL."""
    from acbatch.spec.schema import load_schema

    for folder in path.resolve().parents:
        candidate = folder / "schemas" / "script.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, path.parent)
    return str(load_schema("script")["$id"])


def write_review_file(episode: Episode, state: EpisodeState) -> Path:
    """Write the script for review unless a file is already there (never clobber edits)."""
    path = episode.script_review_path
    if path.exists():
        try:
            current = load_review(path)
        except ReviewError:
            current = None  # a broken file of the current task: the user is editing it
        stale = current is not None and current.get("script_task") != state.script.global_id
        if not stale:
            return path
        # A new script replaced the one this file reviewed: keep the old edits beside it.
        os.replace(path, episode.previous_review_path)
    result = state.script.result or {}
    document: dict[str, Any] = {
        "approved": False,
        "episode": episode.id,
        "script_task": state.script.global_id or "",
        "title": result.get("title") or episode.title or episode.id,
        "description": result.get("processed_content") or "",
        "script": [
            {
                key: turn[key]
                for key in ("role", "name", "voice_id", "text")
                if isinstance(turn.get(key), str)
            }
            for turn in result.get("podcast_script") or []
        ],
        "highlights": [
            {
                key: item[key]
                for key in ("highlight", "index", "script_start_index", "script_end_index")
                if key in item
            }
            for item in result.get("hightlights") or []
            if isinstance(item, dict)
        ],
    }
    header = (
        f"# yaml-language-server: $schema={_schema_ref(path)}\n"
        f"# Script for review: {episode.id}\n"
        "# Edit the text freely (keep each turn's role), then set approved: true\n"
        f"# or run `acbatch approve {episode.id}`. The next `acbatch run` pays for the audio.\n"
    )
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    atomic_write_text(path, header + body)
    return path


def load_review(path: Path) -> dict[str, Any] | None:
    """The review file's data if it exists and passes the schema; ReviewError otherwise."""
    from acbatch.spec.yamlsafe import YamlError, read_yaml_file

    if not path.exists():
        return None
    try:
        document = read_yaml_file(path)
    except YamlError as exc:
        raise ReviewError(str(exc)) from None
    problems = []
    for error in sorted(_validator().iter_errors(document.data), key=lambda e: list(e.path)):
        line, column = document.key_position(tuple(error.path))
        field = ".".join(str(p) for p in error.path) or "<root>"
        problems.append(f"{path}:{line}:{column}: {field}: {error.message}")
    if problems:
        raise ReviewError("the review script is not valid:\n  " + "\n  ".join(problems))
    data: dict[str, Any] = document.data
    return data


def step2_base(data: dict[str, Any]) -> dict[str, Any]:
    """A review file's script as a step-2 base (title, processed_content, script...)."""
    return {
        "title": data.get("title"),
        "processed_content": data.get("description"),
        "podcast_script": data["script"],
        "hightlights": data.get("highlights") or [],
    }


def approved_script(episode: Episode) -> dict[str, Any] | None:
    """The approved, edited script as a step-2 base, whatever task it was approved for."""
    if episode.review != "required":
        return None
    data = load_review(episode.script_review_path)
    if not data or data.get("approved") is not True:
        return None
    return step2_base(data)


def approve(episode: Episode) -> Path:
    """Set `approved: true` in the review file, keeping the user's edits and comments."""
    path = episode.script_review_path
    data = load_review(path)
    if data is None:
        raise ReviewError(f"{path} does not exist yet: run `acbatch run` to write the script first")
    if data.get("approved") is True:
        return path
    text = path.read_text(encoding="utf-8")
    updated, count = _APPROVED_LINE.subn("approved: true", text, count=1)
    if count != 1:
        raise ReviewError(f"{path}: could not find a top-level 'approved: false' line to change")
    atomic_write_text(path, updated)
    load_review(path)
    return path
