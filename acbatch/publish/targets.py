"""Where a show is published: a base URL directories can reach, and artwork they accept.

A feed whose URLs point at localhost, a private network or a name without a dot is fine for a
sandbox preview on this machine, and useless anywhere else: no podcast directory or app can
fetch it. Such a base URL is an error for a live publish and a warning in the sandbox, wherever
it is looked at (validate, run, render, feed check).

`project_target_problems(project, live)` gives every such finding for a loaded project as
spec Problems (file, line, column, field), for commands to print and refuse on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from acbatch.errors import UserError
from acbatch.project.model import Problem, Project
from acbatch.publish.artwork import artwork_file_findings, artwork_url_finding
from acbatch.publish.feedurls import non_public_reason

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class TargetProblem:
    severity: str
    """'error' or 'warning'."""
    message: str


def check_base_url(url: str, live: bool) -> list[TargetProblem]:
    """Problems with show.base_url for a live publish (errors) or a sandbox run (warnings)."""
    reason = non_public_reason(url)
    if reason is None:
        return []
    if live:
        return [
            TargetProblem(
                ERROR,
                f"'{url}' is not public ({reason}): podcast apps and directories cannot fetch "
                "the feed or its audio there; set it to the public URL output/ is served from "
                "(a sandbox run accepts it)",
            )
        ]
    return [
        TargetProblem(
            WARNING,
            f"'{url}' is not public ({reason}): fine for a sandbox preview on this machine, "
            "refused for a live publish",
        )
    ]


def check_artwork(image: str, base: Path, what: str = "") -> list[TargetProblem]:
    """Problems with an artwork setting: an http(s) URL (by its extension), else a file
    relative to `base` (read and checked with Pillow)."""
    if image.lower().startswith(("http://", "https://")):
        finding = artwork_url_finding(image)
        return [] if finding is None else [TargetProblem(finding.severity, finding.message)]
    path = base / image
    if not path.is_file():
        return [TargetProblem(ERROR, f"'{image}' does not exist (looked for {path})")]
    return [
        TargetProblem(finding.severity, f"'{image}' {finding.message}")
        for finding in artwork_file_findings(path)
    ]


def project_target_problems(project: Project, live: bool) -> list[Problem]:
    """base_url and artwork findings for the whole project, placed in its files.

    `live`: the target is the real directories (errors); False for the sandbox, where a
    non-public base_url is only a warning. Artwork problems are errors either way: the sandbox
    publishes what a live run would.
    """
    config = project.config
    show = config.show
    config_file = config.paths.config
    found: list[Problem] = []
    positions = _Positions()

    def add(file: Path, keys: tuple[str | int, ...], problems: Iterable[TargetProblem]) -> None:
        for problem in problems:
            line, column = positions.of(file, keys)
            field = ".".join(str(k) for k in keys)
            found.append(
                Problem(file, line, column, field, problem.message, severity=problem.severity)
            )

    add(config_file, ("show", "base_url"), check_base_url(show.base_url, live))
    if show.image:
        add(config_file, ("show", "image"), check_artwork(show.image, config_file.parent))
    for language in show.languages:
        if language.image:
            where = ("show", "languages", language.key or language.code, "image")
            add(config_file, where, check_artwork(language.image, config_file.parent))
    for episode in project.episodes:
        image = episode.publish.image
        if image:
            # A show published per language publishes each language from its own folder.
            output = config.paths.output / (episode.output_language or "")
            add(episode.spec_path, ("publish", "image"), check_artwork(image, output))
    return found


class TargetError(UserError):
    """The project cannot be published where it points (see require_publishable)."""


def require_publishable(project: Project, live: bool) -> list[Problem]:
    """project_target_problems(), refusing with one TargetError that lists every error.

    Returns the warnings, for the caller to show. `run` and `render` call this before doing
    anything: a live run must not pay for episodes it cannot publish.
    """
    problems = project_target_problems(project, live)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        lines = [f"{problem_line(p, project.config.paths.root)}" for p in errors]
        hint = "" if not live else " (for a sandbox run, use --sandbox)"
        raise TargetError(
            "cannot publish" + hint + ":\n" + "\n".join(f"  {line}" for line in lines)
        )
    return problems


def problem_line(problem: Problem, root: Path) -> str:
    """file:line:column: field: [warning: ]message, the file relative to `root` when inside."""
    try:
        shown = str(problem.file.relative_to(root))
    except ValueError:
        shown = str(problem.file)
    label = "warning: " if problem.severity == WARNING else ""
    return f"{shown}:{problem.line}:{problem.column}: {problem.field}: {label}{problem.message}"


class _Positions:
    """Line and column of a value in a YAML file (1:1 when it cannot be found)."""

    def __init__(self) -> None:
        self._documents: dict[Path, object] = {}

    def of(self, file: Path, keys: tuple[str | int, ...]) -> tuple[int, int]:
        from acbatch.project.yamlsafe import YamlDocument, YamlError, read_yaml_file

        document = self._documents.get(file)
        if file not in self._documents:
            try:
                document = read_yaml_file(file)
            except (YamlError, OSError):
                document = None
            self._documents[file] = document
        if not isinstance(document, YamlDocument):
            return 1, 1
        try:
            return document.value_position(keys)
        except (KeyError, IndexError, TypeError):
            return 1, 1
