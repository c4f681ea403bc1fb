"""Small helpers the commands share: loading a valid project, printing problems and JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from acbatch.context import Context
from acbatch.project.model import Problem, Project, display_path, format_problem
from acbatch.wording import plural

__all__ = [
    "EXIT_CANCELLED_HELP",
    "EXIT_CREDITS_HELP",
    "EXIT_INTERNAL_HELP",
    "EXIT_LOCKED_HELP",
    "EXIT_USAGE_HELP",
    "SCHEMA_VERSION",
    "InvalidSpec",
    "Selection",
    "base_url_option",
    "echo_json",
    "exit_codes_help",
    "format_problem",
    "json_option",
    "load_selected_project",
    "load_valid_project",
    "plural",
    "report_skipped",
    "retry_uncertain_option",
    "run_summary_lines",
    "select_valid",
    "shown_path",
    "skip_invalid_option",
]

SCHEMA_VERSION = 1
"""The version of every `--json` output's shape (schemas/output/<kind>.schema.json). It goes up
when a key changes meaning or goes away; a new key does not change it."""

# The exit codes several commands share, worded once: every command's --help epilog is made of
# these (exit_codes_help), so `acbatch --help` and `acbatch run --help` cannot disagree.
EXIT_USAGE_HELP = "2 usage error (a bad option or argument, or an unknown episode id)"
EXIT_LOCKED_HELP = "3 another run holds the project's lock"
EXIT_CREDITS_HELP = "4 the credit budget or the account's credits ran out"
EXIT_INTERNAL_HELP = "70 internal error (a bug: its traceback is in the log file named on stderr)"
EXIT_CANCELLED_HELP = "130/143 cancelled by SIGINT/SIGTERM (state is saved; the next run resumes)"


def exit_codes_help(ok: str, problem: str, *shared: str) -> str:
    """A command's `Exit codes:` epilog: what 0 and 1 mean for it, then usage errors, the
    shared codes it can return (EXIT_LOCKED_HELP...) and internal errors, in numeric order."""
    parts = [f"0 {ok}", f"1 {problem}", EXIT_USAGE_HELP, *shared, EXIT_INTERNAL_HELP]
    parts.sort(key=lambda part: int(part.split(" ", 1)[0].split("/", 1)[0]))
    return "Exit codes: " + "; ".join(dict.fromkeys(parts)) + "."


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a machine-readable JSON report on stdout (schema_version, kind, ok, then the "
    "report; its JSON Schema is in schemas/output/, see docs/json-output.md).",
)

skip_invalid_option = click.option(
    "--skip-invalid",
    is_flag=True,
    help=(
        "Go on with the valid episodes when other specs are invalid: the invalid ones are "
        "listed and the exit status is 1. Without it, any invalid spec stops everything. "
        "Episodes named as IDs, and acbatch.yaml, must always be valid."
    ),
)


base_url_option = click.option(
    "--base-url", help="API base URL (beats AUDIOCLEANER_API_BASE and api.base_url)."
)


def retry_uncertain_option(help_text: str) -> Any:
    """--retry-uncertain ID (repeatable): run's word to resend, and plan's view of it."""
    return click.option(
        "--retry-uncertain", "retry_uncertain", multiple=True, metavar="ID", help=help_text
    )


sandbox_option = click.option(
    "--sandbox",
    is_flag=True,
    help="The offline sandbox, in its own workspace (sandbox/state, sandbox/output).",
)


def shown_path(path: Path) -> str:
    """A path as commands print it: relative to the current folder when inside it."""
    return display_path(path)


@dataclass(frozen=True)
class InvalidSpec:
    """An episode spec with errors, left out of the project it was loaded with."""

    path: Path
    episode_id: str
    """The spec's `id:` when it can be read, else its file name without the extension."""
    problems: tuple[Problem, ...]

    def label(self) -> str:
        """`tide-pools (specs/tide-pools.yaml)`: the id and the files its problems are in."""
        files = dict.fromkeys(shown_path(problem.file) for problem in self.problems)
        return f"{self.episode_id} ({', '.join(files) or shown_path(self.path)})"


def select_valid(
    project: Project,
    ids: tuple[str, ...] = (),
    skip_invalid: bool = False,
    review_scripts: bool = True,
) -> tuple[Project, list[InvalidSpec], list[Problem]]:
    """Split a loaded project into what may run and what may not.

    Returns (the project with only its valid episodes, the invalid specs left out, the errors
    that must stop the command). With `review_scripts`, an episode whose review script has
    errors counts as invalid (for the commands that would send it: plan, run).
    Errors outside the episode specs (acbatch.yaml, the voice catalog) always stop it. With
    `ids`, only the specs of those episodes must be valid (an id names a spec by its `id:` or
    its file name); the others are left out silently. Without `ids`, every spec must be valid
    unless `skip_invalid`. Nothing is printed.
    """
    from acbatch.project.loader import discover_specs

    review_errors = _review_script_errors(project) if review_scripts else {}
    if not project.errors and not review_errors:
        return project, [], []
    spec_files = {path.resolve() for path in discover_specs(project.config.paths.specs)}
    spec_files |= {episode.spec_path.resolve() for episode in project.episodes}
    by_spec: dict[Path, list[Problem]] = {}
    blocking: list[Problem] = []
    for problem in project.errors:
        file = problem.file.resolve()
        if file in spec_files:
            by_spec.setdefault(file, []).append(problem)
        else:
            blocking.append(problem)
    for spec_path, problems in review_errors.items():
        by_spec.setdefault(spec_path.resolve(), []).extend(problems)
    invalid = [
        InvalidSpec(path, _spec_id(path), tuple(problems))
        for path, problems in sorted(by_spec.items())
    ]
    if ids:
        from acbatch.project.model import spec_id_of

        wanted = set(ids) | {spec_id_of(i) for i in ids}
        named = [spec for spec in invalid if spec.episode_id in wanted or spec.path.stem in wanted]
        blocking += [problem for spec in named for problem in spec.problems]
    elif not skip_invalid:
        blocking += [problem for spec in invalid for problem in spec.problems]
    bad_files = set(by_spec)
    valid = [e for e in project.episodes if e.spec_path.resolve() not in bad_files]
    # Warnings stay with the project; the errors of left-out specs go with them.
    kept = [p for p in project.problems if p.severity != "error" or p in blocking]
    return Project(project.config, valid, kept), invalid, blocking


def _review_script_errors(project: Project) -> dict[Path, list[Problem]]:
    """The errors in the review scripts of episodes that ask for review, by their spec file:
    a broken script is that episode's problem, like a broken spec (its approval cannot be
    checked against the state here; `validate` and `plan` do that)."""
    from acbatch.runner.review import review_files, review_folder, review_problems

    present = {path.name for path in review_files(review_folder(project))}
    if not present:
        return {}
    found: dict[Path, list[Problem]] = {}
    for episode in project.episodes:
        path = episode.script_review_path
        if episode.review == "required" and path.name in present and path.exists():
            errors = [p for p in review_problems(path) if p.severity == "error"]
            if errors:
                found[episode.spec_path] = errors
    return found


@dataclass
class Selection:
    """The project a command acts on, and the invalid specs left out of it."""

    project: Project
    left_out: list[InvalidSpec]
    skipped: bool
    """True when they were left out by --skip-invalid (not because other IDs were named): the
    command must say so at the end and exit 1 (report_skipped)."""

    def report_skipped(self) -> int:
        """Name the specs --skip-invalid left out; the exit status this adds (0 or 1)."""
        return report_skipped(self.left_out) if self.skipped else 0

    def may_render(self, state_folder: Path) -> bool:
        """Whether the feed and site may be rendered from this project; prints why not.

        Not when a left-out spec's episode has a saved state there: it may be published, and a
        feed rendered without it would drop it.
        """
        from acbatch.runner.state import StateStore

        store = StateStore(state_folder)
        saved = store.saved_names()
        held = [s for s in self.left_out if store.has_saved(s.episode_id, saved)]
        if not held:
            return True
        one = len(held) == 1
        subject = "this spec is" if one else "these specs are"
        click.echo(
            f"acbatch: the feed and site are not rendered: {subject} "
            f"invalid, and a feed without {'its episode' if one else 'their episodes'} would "
            f"drop what was published: {', '.join(spec.label() for spec in held)}; fix "
            f"{'it' if one else 'them'}, then run `acbatch render`",
            err=True,
        )
        return False


def load_selected_project(
    ctx: Context,
    ids: tuple[str, ...] = (),
    skip_invalid: bool = False,
    review_scripts: bool = True,
    sandbox: bool = False,
) -> Selection:
    """The project to act on, and the invalid specs left out of it (see select_valid).

    Prints every problem that stops the command and exits 1 (nothing is changed). Left-out
    specs are announced: with `ids`, one line names the other invalid specs; with
    `skip_invalid`, their problems are printed, and the command should end with
    Selection.report_skipped() and exit 1.
    """
    from acbatch.runner.batch import workspace

    loaded = workspace(ctx.load_project(), sandbox)
    project, invalid, blocking = select_valid(loaded, ids, skip_invalid, review_scripts)
    if blocking:
        for problem in blocking:
            click.echo(format_problem(problem), err=True)
        click.echo(
            f"acbatch: {plural(len(blocking), 'problem')} found; nothing was run "
            "(see `acbatch validate`)",
            err=True,
        )
        sys.exit(1)
    if invalid and ids:
        verb = "is" if len(invalid) == 1 else "are"
        ctx.info(
            f"acbatch: note: {plural(len(invalid), 'other spec')} {verb} invalid, not needed "
            f"here: {', '.join(spec.label() for spec in invalid)} (see `acbatch validate`)"
        )
    elif invalid:
        for spec in invalid:
            for problem in spec.problems:
                click.echo(format_problem(problem), err=True)
        click.echo(
            f"acbatch: skipping {plural(len(invalid), 'invalid spec')}: "
            f"{', '.join(spec.label() for spec in invalid)}",
            err=True,
        )
    return Selection(project, invalid, skipped=bool(invalid) and not ids)


def load_valid_project(
    ctx: Context,
    ids: tuple[str, ...] = (),
    skip_invalid: bool = False,
    review_scripts: bool = False,
    sandbox: bool = False,
) -> Project:
    """The project, or exit 1 after printing every problem that stops the command.

    With `ids`, only those episodes' specs (and acbatch.yaml) must be valid. With
    `skip_invalid`, invalid specs are left out and listed instead; use load_selected_project
    to learn which, so the command can exit 1 at the end. Review scripts are checked only
    when asked (`review_scripts`): rendering, for one, never reads them.
    """
    return load_selected_project(ctx, ids, skip_invalid, review_scripts, sandbox).project


def report_skipped(invalid: list[InvalidSpec]) -> int:
    """Name the specs a --skip-invalid command left out; the exit status it must add (0 or 1)."""
    if not invalid:
        return 0
    click.echo(
        f"acbatch: error: {plural(len(invalid), 'invalid spec')} skipped: "
        f"{', '.join(spec.label() for spec in invalid)}; see `acbatch validate`",
        err=True,
    )
    return 1


def run_summary_lines(result: Any) -> list[str]:
    """The end of `acbatch run` (a runner.session.RunResult): the one place each episode that
    did not finish is named with its message (progress does not repeat it), then the totals."""
    summary = result.summary
    lines = [
        f"  {item.id}: {item.outcome.value}: {item.message}"
        for item in summary.results
        if item.outcome.value != "done"
    ]
    counts = ", ".join(f"{n} {name}" for name, n in summary.to_json()["outcomes"].items())
    line = f"acbatch: {plural(len(summary.results), 'episode')}: {counts or 'nothing to do'}"
    creates = summary.creates
    line += (
        f"; {plural(summary.requests, 'API request')} "
        f"({plural(creates['script'], 'script create')}, "
        f"{plural(creates['audio'], 'billed audio create')}); {summary.elapsed:.1f}s"
    )
    if result.drafts:
        line += f"; drafts skipped: {', '.join(result.drafts)}"
    lines.append(line)
    if summary.cancelled:
        in_flight = sum(1 for r in summary.results if r.outcome.value == "cancelled")
        lines.append(
            f"acbatch: cancelled by {summary.cancelled}: {plural(in_flight, 'episode')} left in "
            "flight with their tasks saved; the next `acbatch run` resumes them"
        )
    if summary.aborted:
        lines.append(f"acbatch: error: run stopped: {summary.aborted}")
    if result.render_error:
        lines.append(f"acbatch: error: rendering failed: {result.render_error}")
    if result.rendered is not None:
        lines.append(f"acbatch: {rendered_feeds(result.rendered)}")
    return lines


def rendered_feeds(report: Any) -> str:
    """`feed output/feed.xml with 3 episodes`, or one feed per language (a RenderReport)."""
    if not report.languages:
        published = plural(len(report.published), "episode")
        return f"feed {shown_path(report.feed_path)} with {published}"
    feeds = ", ".join(
        f"{code} {shown_path(part.feed_path)} ({plural(len(part.published), 'episode')})"
        for code, part in report.languages.items()
    )
    return f"feeds {feeds}; languages page {shown_path(report.site_path)}"


def feeds_json(report: Any) -> dict[str, Any]:
    """`feeds` of the --json outputs of render and run: each language's feed (a RenderReport
    of a show published per language); empty for a show with one feed."""
    return {
        code: {
            "feed": str(part.feed_path),
            "site": str(part.site_path),
            "published": part.published,
            "podcast_guid": part.podcast_guid,
        }
        for code, part in report.languages.items()
    }


def echo_json(kind: str, data: dict[str, Any], *, ok: bool) -> None:
    """Print a `--json` output: the envelope every output shares, then the command's keys.

    `kind` names the output and its schema (schemas/output/<kind>.schema.json); `ok` is true
    exactly when the command exits 0: it is the one success key of every output.
    """
    envelope: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": kind, "ok": ok}
    clash = envelope.keys() & data.keys()
    if clash:
        raise ValueError(f"--json output {kind!r} may not set {sorted(clash)} itself")
    document = {**envelope, **data}
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def _spec_id(path: Path) -> str:
    """An invalid spec's episode id as the user would name it: its `id:`, else its file name."""
    from acbatch.project.yamlsafe import YamlError, read_yaml_file

    try:
        data = read_yaml_file(path).data
    except (YamlError, OSError):
        data = None
    declared = data.get("id") if isinstance(data, dict) else None
    if isinstance(declared, str) and declared.strip():
        return declared
    return path.name.rsplit(".", 1)[0]
