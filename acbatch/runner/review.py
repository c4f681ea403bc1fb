"""The review gate: a script the user reads, edits and approves before the audio is paid for.

For an episode with `review: required`, the runner writes `specs/<id>.script.yaml` after step 1
and stops. Setting `approved: true` in that file (by hand, in a pull request, or with
`acbatch approve ID`) lets the next run synthesize the edited script, after it passes
schemas/script.schema.json.

An approval is bound to the script task it approves (the file's `script_task`, the episode
state's `script.global_id`): when a new script is made (the source changed, a redo), the old
approval no longer counts, the old file with the user's edits is moved aside to
`specs/<id>.previous.script.yaml` and the new script is written for review.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from acbatch.constants import REVIEW_SUFFIXES, SPEC_SUFFIXES
from acbatch.errors import UserError
from acbatch.project.model import Episode, Problem, Project, display_path, format_problem
from acbatch.runner.state import EpisodeState
from acbatch.store import atomic_write_text

_APPROVED_LINE = re.compile(r"^approved:\s*(false|no|off)\s*(#.*)?$", re.MULTILINE)
_SCRIPT_TASK_LINE = re.compile(r"^script_task:[ \t]*[\"']?([^\"'\s#]*)", re.MULTILINE)
_EPISODE_LINE = re.compile(r"^episode:[^\n]*$", re.MULTILINE)

"""How review scripts are named: `<episode id>` + one of these, next to the episode's spec."""
PREVIOUS_SUFFIX = ".previous.script.yaml"
"""The copy of a review script whose script task was replaced (kept for its edits, never used).
It ends like a review script so the loader never takes it for an episode spec."""


class ReviewError(UserError):
    """The review file is missing or does not pass its schema."""


def _schema_ref(path: Path) -> str:
    """A relative path to the project's copy of the schema when there is one, else its URL."""
    from acbatch.project.schema import load_schema

    for folder in path.resolve().parents:
        candidate = folder / "schemas" / "script.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, path.parent)
    return str(load_schema("script")["$id"])


def is_review_file(path: Path) -> bool:
    """Whether `path` is named like a review script (and is not a moved-aside previous copy)."""
    return path.name.endswith(REVIEW_SUFFIXES) and not path.name.endswith(PREVIOUS_SUFFIX)


def review_files(folder: Path) -> list[Path]:
    """The review scripts in a folder, sorted (previous copies and dotfiles left out)."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
    except OSError:
        return []
    return [
        folder / name
        for name in names
        if not name.startswith(".") and is_review_file(folder / name)
    ]


def review_episode_id(path: Path) -> str:
    """The episode a review script belongs to, by its file name: tide-pools.script.yaml."""
    name = path.name
    for suffix in REVIEW_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def previous_path(episode: Episode) -> Path:
    """Where the review file of a replaced script task is kept: specs/<id>.previous.script.yaml."""
    return episode.previous_review_path


def approval_is_current(review_data: dict[str, Any], script_global_id: str | None) -> bool:
    """Whether the review file's data approves the episode's current script.

    True when the file says `approved: true` and its `script_task` is `script_global_id` (the
    episode state's script.global_id). With no current script task (None) there is nothing
    to bind to, and only `approved: true` counts.
    """
    if review_data.get("approved") is not True:
        return False
    if script_global_id is None:
        return True
    return review_data.get("script_task") == script_global_id


def review_problems(path: Path, script_global_id: str | None = None) -> list[Problem]:
    """Every problem in one review script, as Problems with file:line:column.

    Checks, in order: the YAML itself; schemas/script.schema.json (unknown fields come with a
    suggestion: `rol` -> `role`); that its `episode:` is the episode its file is named for;
    and, when `script_global_id` is given (the episode's current script task, from
    state/<id>.json's script.global_id), that an approval is for that task. `validate` and
    `plan` both use it; it reads nothing but `path`.
    """
    from acbatch.project import schema
    from acbatch.project.yamlsafe import YamlError, read_yaml_file

    try:
        document = read_yaml_file(path)
    except YamlError as exc:
        return [Problem(path, exc.line, exc.column, schema.format_field(exc.path), exc.message)]
    if document.data is None:
        message = "the review script is empty: delete it, and the next run writes the script again"
        return [Problem(path, 1, 1, "", message)]
    problems = schema.validate_document(schema.SCRIPT, document, file=path)
    if problems or not isinstance(document.data, dict):
        return problems
    data: dict[str, Any] = document.data
    expected = review_episode_id(path)
    if data["episode"] != expected:
        line, column = document.value_position(("episode",))
        message = (
            f"this script is for episode '{data['episode']}', but the file is named for "
            f"'{expected}': a review script is {expected}.script.yaml next to its spec"
        )
        problems.append(Problem(path, line, column, "episode", message))
    stale = data["approved"] is True and not approval_is_current(data, script_global_id)
    if script_global_id is not None and stale:
        written = data.get("script_task") or ""
        place = ("script_task",) if "script_task" in data else ("approved",)
        line, column = document.value_position(place)
        approved_for = f"script task '{written}'" if written else "no script task"
        message = (
            f"approved for {approved_for}, but the episode's current script is task "
            f"'{script_global_id}': this approval no longer counts. The next "
            f"`acbatch run {expected}` writes the new script here for review and keeps "
            f"this file as {expected}{PREVIOUS_SUFFIX}"
        )
        problems.append(Problem(path, line, column, place[0], message))
    return problems


def write_review_file(episode: Episode, state: EpisodeState) -> Path:
    """Write the episode's current script (state.script) for review; returns its path.

    A review file for the same script task is never touched (it holds the user's edits). One
    for an older task is moved aside to previous_path() first, replacing an older previous
    copy, so the reviewer can carry the edits over. A file whose task cannot be read at all
    is left as it is.
    """
    path = episode.script_review_path
    current_task = state.script.global_id or ""
    moved_aside: Path | None = None
    if path.exists():
        written_task = _written_task(path)
        if written_task is None or written_task == current_task:
            return path
        moved_aside = previous_path(episode)
        os.replace(path, moved_aside)
    result = state.script.result or {}
    document: dict[str, Any] = {
        "approved": False,
        "episode": episode.id,
        "script_task": current_task,
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
    if moved_aside is not None:
        header += (
            f"# This is a new script. Your edits of the previous one are in {moved_aside.name}:\n"
            "# carry over what you want, then delete that file.\n"
        )
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    atomic_write_text(path, header + body)
    return path


def carry_review_file(episode: Episode, former_id: str) -> Path | None:
    """Give an episode whose state was carried over from `former_id` (see
    acbatch.runner.state.StateStore.load_or_carry) that id's review file, edits and approval
    kept: the same text under the episode's name, its `episode:` naming the episode (a review
    file's name and `episode:` must agree). The approval stays bound to the same script task,
    which the carried state holds. Returns the former file, which the caller removes once the
    state is saved under the new id; None when there is nothing to carry (or the episode has a
    review file of its own, which is never overwritten).
    """
    former = episode.review_path_for(former_id)
    path = episode.script_review_path
    if path.exists() or former.is_symlink() or not former.is_file():
        return None
    text = former.read_text(encoding="utf-8")
    text = _EPISODE_LINE.sub(lambda _match: f"episode: {json.dumps(episode.id)}", text, count=1)
    text = text.replace(f"review: {former_id}\n", f"review: {episode.id}\n", 1)
    atomic_write_text(path, text)
    return former


def _written_task(path: Path) -> str | None:
    """The `script_task` a review file was written for ("" when it names none); None when the
    file cannot be read at all. A file with a YAML error still shows its task line."""
    from acbatch.project.yamlsafe import YamlError, read_yaml_file

    try:
        data = read_yaml_file(path).data
    except YamlError:
        data = None
    if isinstance(data, dict):
        task = data.get("script_task")
        return task if isinstance(task, str) else ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _SCRIPT_TASK_LINE.search(text)
    return match.group(1) if match else None


def load_review(path: Path) -> dict[str, Any] | None:
    """The review file's data if it exists and passes the schema; ReviewError otherwise."""
    if path.is_symlink():
        # Review files are read and sent to the paid audio step: never from outside the project.
        raise ReviewError(f"{path.name} is a symbolic link: a review script must be a plain file")
    if not path.exists():
        return None
    problems = review_problems(path)
    if problems:
        shown = "\n  ".join(format_problem(problem) for problem in problems)
        raise ReviewError(f"the review script is not valid (see `acbatch validate`):\n  {shown}")
    from acbatch.project.yamlsafe import read_yaml_file

    data: dict[str, Any] = read_yaml_file(path).data
    return data


def step2_base(data: dict[str, Any]) -> dict[str, Any]:
    """A review file's script as a step-2 base (title, processed_content, script...)."""
    return {
        "title": data.get("title"),
        "processed_content": data.get("description"),
        "podcast_script": data["script"],
        "hightlights": data.get("highlights") or [],
    }


def approve(
    episode: Episode, script_global_id: str | None = None, path: Path | None = None
) -> Path:
    """Set `approved: true` in the review file, keeping the user's edits and comments.

    Given the episode's current script task, a file written for another task is refused: its
    approval would not count. `path`: the file, when it is not the episode's own (see
    acbatch.runner.plan.review_path).
    """
    path = path or episode.script_review_path
    shown = display_path(path)
    data = load_review(path)
    if data is None:
        raise ReviewError(
            f"{shown} does not exist yet: run `acbatch run {episode.id}` to write the script first"
        )
    written = data.get("script_task")
    if script_global_id is not None and written != script_global_id:
        raise ReviewError(
            f"{shown} is for script task '{written or ''}', but the episode's current script is "
            f"task '{script_global_id}': run `acbatch run {episode.id}` to write the new script "
            "for review first"
        )
    if data.get("approved") is True:
        return path
    text = path.read_text(encoding="utf-8")
    updated, count = _APPROVED_LINE.subn("approved: true", text, count=1)
    if count != 1:
        raise ReviewError(f"{shown}: could not find a top-level 'approved: false' line to change")
    atomic_write_text(path, updated)
    load_review(path)
    return path


def check_review_scripts(
    project: Project, state_folder: Path, paths: list[Path] | None = None
) -> tuple[list[Path], list[Problem]]:
    """The review scripts of a project (or those among `paths`) and all their problems.

    Each file gets review_problems() with its episode's current script task, read from the
    state in `state_folder` (read-only; an unreadable state just skips that check). A file
    whose episode does not ask for review, or that belongs to no episode, gets a warning: it
    is not used.
    """
    from acbatch.runner.state import StateStore
    from acbatch.store import StoreError

    files = _review_files_among(project, paths)
    if not files:
        return [], []
    store = StateStore(state_folder)
    by_review_path = {e.script_review_path.resolve(): e for e in project.episodes}
    problems: list[Problem] = []
    for path in files:
        episode_id = review_episode_id(path)
        episode = by_review_path.get(path.resolve()) or project.episode(episode_id)
        script_task = None
        try:
            state = store.load(episode_id)
        except StoreError:
            state = None
        if state is not None:
            script_task = state.script.global_id
        found = review_problems(path, script_task)
        problems += found
        if any(p.severity == "error" for p in found):
            continue
        if episode is not None and episode.review != "required":
            message = (
                f"episode '{episode.id}' has review: auto, so this script is not used: set "
                "`review: required` in its spec, or delete this file"
            )
            problems.append(Problem(path, 1, 1, "", message, severity="warning"))
        elif episode is None and not any(
            path.with_name(episode_id + suffix).exists() for suffix in SPEC_SUFFIXES
        ):
            message = f"there is no episode '{episode_id}' here, so this script is not used"
            problems.append(Problem(path, 1, 1, "", message, severity="warning"))
    return files, problems


def review_folder(project: Project) -> Path:
    """Where the project's review scripts are: beside the specs, or in the workspace's own
    folder (the sandbox keeps its reviews apart)."""
    return next(
        (e.review_folder for e in project.episodes if e.review_folder is not None),
        project.config.paths.specs,
    )


def _review_files_among(project: Project, paths: list[Path] | None) -> list[Path]:
    specs = review_folder(project)
    if paths is None:
        return review_files(specs)
    root = project.config.paths.root.resolve()
    files: list[Path] = []
    for given in paths:
        path = Path(given).absolute()
        if path.is_dir():
            files += review_files(specs if path.resolve() == root else path)
        elif is_review_file(path):
            files.append(path)
    return sorted(dict.fromkeys(files))
