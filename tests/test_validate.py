"""The spec language end to end: the malformed-spec corpus, cross-file checks and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from acbatch import codes
from acbatch.cli import cli
from acbatch.errors import ConfigError
from acbatch.project import schema
from acbatch.project.loader import (
    load_project,
    load_project_files,
    load_show_config,
    parse_publish_date,
)
from acbatch.project.model import Project
from acbatch.project.yamlsafe import MAX_FILE_BYTES, YamlError, load_yaml_text
from tests.conftest import acbatch

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED: dict[str, dict[str, list[str]]] = yaml.safe_load(
    (CORPUS / "expected.yaml").read_text(encoding="utf-8")
)
HELLO_SPEC = "source: {text: hello}\nstyle: 1\nduration: 1\nlanguage: en\nspeakers: [16098]\n"


def make_project(tmp_path: Path) -> Path:
    """A copy of the corpus project (acbatch.yaml with defaults, voices.json, sources)."""
    root = tmp_path / "show"
    shutil.copytree(CORPUS / "project", root)
    return root


def describe(problems: list[Any], root: Path, own_file: Path) -> list[str]:
    """Problems in the corpus's expected.yaml notation."""
    lines = []
    for problem in problems:
        relative = problem.file.relative_to(root)
        text = "warning " if problem.severity == "warning" else ""
        text += "" if relative == own_file else f"{relative} "
        text += f"{problem.line}:{problem.column} {problem.field or '<root>'}: {problem.message}"
        if problem.suggestion:
            text += f" | suggestion={problem.suggestion}"
        lines.append(text)
    return lines


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


# --- the corpus ---------------------------------------------------------------------------------


def test_corpus_is_large_and_every_case_has_an_expectation() -> None:
    spec_cases = {p.stem for p in (CORPUS / "specs").glob("*.yaml")}
    config_cases = {p.stem for p in (CORPUS / "configs").glob("*.yaml")}
    assert spec_cases == set(EXPECTED["specs"])
    assert config_cases == set(EXPECTED["configs"])
    invalid = [c for c in EXPECTED["specs"].values() if c] + [
        c for c in EXPECTED["configs"].values() if c
    ]
    assert len(invalid) >= 60


@pytest.mark.parametrize("case", sorted(EXPECTED["specs"]))
def test_spec_corpus(case: str, tmp_path: Path) -> None:
    root = make_project(tmp_path)
    own = Path("specs") / f"{case}.yaml"
    shutil.copy(CORPUS / own, root / own)
    project = load_project(root / "acbatch.yaml")
    assert describe(project.problems, root, own) == EXPECTED["specs"][case]
    if not project.errors:
        assert [e.id for e in project.episodes] == [case if case != "valid-full" else "valid-full"]


@pytest.mark.parametrize("case", sorted(EXPECTED["specs"]))
def test_spec_corpus_through_the_spec_cache(case: str, tmp_path: Path) -> None:
    """The commands load through the cache: the first load fills it, the second reads it."""
    root = make_project(tmp_path)
    own = Path("specs") / f"{case}.yaml"
    shutil.copy(CORPUS / own, root / own)
    (root / "specs" / "hello.yaml").write_text(HELLO_SPEC, encoding="utf-8")
    fresh = load_project(root / "acbatch.yaml")
    for _ in range(2):
        cached = load_project(root / "acbatch.yaml", cache=True)
        assert cached.problems == fresh.problems
        assert cached.episodes == fresh.episodes
    assert (root / ".acbatch" / "cache.sqlite3").is_file()


@pytest.mark.parametrize("case", sorted(EXPECTED["configs"]))
def test_config_corpus(case: str, tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "configs" / f"{case}.yaml", root / "acbatch.yaml")
    (root / "specs" / "hello.yaml").write_text(HELLO_SPEC, encoding="utf-8")
    project = load_project(root / "acbatch.yaml")
    assert describe(project.problems, root, Path("acbatch.yaml")) == EXPECTED["configs"][case]
    config, problems = load_show_config(root / "acbatch.yaml")
    config_errors = [p for p in problems if p.severity == "error"]
    assert (config is None) == bool(config_errors)


def test_valid_full_spec_is_normalised(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "valid-full.yaml", root / "specs" / "valid-full.yaml")
    project = load_project(root / "acbatch.yaml")
    assert project.problems == []
    (episode,) = project.episodes
    assert episode.style == 3 and episode.duration_level == 3 and episode.language == "en"
    assert episode.speakers == (16098, "nora", "16093")
    assert episode.speaker_ids == (16098, 16101, 16093)
    assert episode.source.kind == "file"
    assert episode.source.path == (root / "specs" / "sources" / "notes.md").resolve()
    assert episode.commercial_use is True and episode.review == "required"
    assert episode.publish.date == datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
    assert episode.publish.episode_type == "trailer" and episode.publish.keywords == (
        "sleep",
        "science",
    )
    assert episode.overrides["voices"] == {"A": "ava", "B": 16093}
    assert episode.raw["id"] == "valid-full" and episode.raw["publish"]["season"] == 2


def test_defaults_fill_in_and_deep_merge(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    config = root / "acbatch.yaml"
    config.write_text(
        config.read_text() + "  publish: {explicit: true, keywords: [base]}\n"
        "  overrides: {voices: {A: ava}}\n",
        encoding="utf-8",
    )
    (root / "specs" / "merge.yaml").write_text(
        "source: {text: hi}\npublish: {season: 3, keywords: [own]}\n"
        "overrides: {voices: {B: leo}}\n",
        encoding="utf-8",
    )
    project = load_project(config)
    assert project.problems == []
    (episode,) = project.episodes
    assert episode.style == codes.STYLES["interview"] and episode.duration_level == 2
    assert episode.speaker_ids == (16098, 16093)
    assert episode.publish.explicit is True and episode.publish.season == 3
    assert episode.publish.keywords == ("own",)
    assert episode.overrides == {"voices": {"A": "ava", "B": "leo"}}
    assert episode.commercial_use is False and episode.use_mode == "ai"
    assert episode.review == "auto" and episode.publish.draft is False
    assert episode.publish.date is None


# --- generated cases ----------------------------------------------------------------------------


def problems_for(root: Path, name: str, content: bytes) -> list[str]:
    (root / "specs" / name).write_bytes(content)
    project = load_project(root / "acbatch.yaml")
    return describe(project.problems, root, Path("specs") / name)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "1:1 source: spec is empty"),
        (b"   \n\n  \n", "1:1 source: spec is empty"),
        (b"source:\n  text: \x00\x01binary\n", "2:1 <root>: binary file (contains NUL bytes)"),
        ("source:\n  text: caf\u00e9\n".encode("latin-1"), "2:1 <root>: not UTF-8 text"),
        ("source: {text: hi}\n".encode("utf-16"), "1:1 <root>: binary file"),
        (b"source: {text: hi}\n#" + b"x" * MAX_FILE_BYTES, "1:1 <root>: file is too large"),
        (
            b"source: {text: hi}\noverrides: " + b"[" * 80 + b"]" * 80 + b"\n",
            "2:",
        ),
    ],
    ids=["empty", "blank", "binary", "latin-1", "utf-16", "huge", "deep"],
)
def test_unreadable_spec_files(tmp_path: Path, content: bytes, expected: str) -> None:
    root = make_project(tmp_path)
    (line,) = problems_for(root, "broken.yaml", content)
    assert line.startswith(expected)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "first.yaml").write_text("source: {text: a}\n")
    (root / "specs" / "second.yaml").write_text("id: first\nsource: {text: b}\n")
    project = load_project(root / "acbatch.yaml")
    assert describe(project.problems, root, Path("specs/second.yaml")) == [
        "1:5 id: duplicate episode id 'first' (also used by specs/first.yaml)"
    ]


def test_duplicate_season_and_episode_numbers(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text(
        "source: {text: a}\npublish: {season: 1, episode: 4}\n"
    )
    (root / "specs" / "two.yaml").write_text(
        "source: {text: b}\npublish:\n  season: 1\n  episode: 4\n"
    )
    (root / "specs" / "three.yaml").write_text(
        "source: {text: c}\npublish: {season: 2, episode: 4}\n"
    )
    project = load_project(root / "acbatch.yaml")
    assert describe(project.problems, root, Path("specs/two.yaml")) == [
        "4:12 publish.episode: season 1 episode 4 is already used by specs/one.yaml"
    ]


def test_file_source_through_a_symlink_outside_the_project(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    secret = tmp_path / "outside.md"
    secret.write_text("# private\n")
    (root / "specs" / "sources" / "leak.md").symlink_to(secret)
    (root / "specs" / "sources" / "inside.md").symlink_to(root / "specs" / "sources" / "notes.md")
    (root / "specs" / "inside.yaml").write_text("source: {file: sources/inside.md}\n")
    lines = problems_for(root, "leak.yaml", b"source:\n  file: sources/leak.md\n")
    assert lines == [
        "2:9 source.file: 'sources/leak.md' leads outside the project folder through a symbolic "
        "link; source files must be inside it"
    ]
    project = load_project(root / "acbatch.yaml")
    assert [e.id for e in project.episodes] == ["inside"]


def test_file_source_symlinked_folder_escape(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.md").write_text("hi\n")
    (root / "specs" / "linked").symlink_to(outside, target_is_directory=True)
    lines = problems_for(root, "via-folder.yaml", b"source: {file: linked/notes.md}\n")
    assert len(lines) == 1 and "through a symbolic link" in lines[0]


def test_fifo_spec_is_refused_without_blocking(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    os.mkfifo(root / "specs" / "pipe.yaml")
    project = load_project(root / "acbatch.yaml")
    assert describe(project.problems, root, Path("specs/pipe.yaml")) == [
        "1:1 <root>: not a regular file"
    ]


@pytest.mark.parametrize("stem", ["Bad Name", "under_score", "-leading", "Capital"])
def test_file_names_that_are_not_ids(tmp_path: Path, stem: str) -> None:
    root = make_project(tmp_path)
    (line,) = problems_for(root, f"{stem}.yaml", b"source: {text: hi}\n")
    assert line.startswith(f"1:1 id: the file name '{stem}' is not a valid episode id")
    assert "rename the file or set `id:`" in line


def test_a_bad_file_name_is_fine_with_an_explicit_id(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert problems_for(root, "Bad Name.yaml", b"id: good-name\nsource: {text: hi}\n") == []


def test_missing_fields_without_defaults_name_both_places(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "acbatch.yaml").write_text(
        "show: {title: T, description: D, author: A, language: en, "
        "base_url: 'http://localhost:8000/'}\n"
    )
    lines = problems_for(root, "bare.yaml", b"# comment\nsource: {text: hi}\nstyle: funny\n")
    assert lines == [
        f"2:1 {name}: missing required field '{name}': set it in the spec or under "
        "`defaults:` in acbatch.yaml"
        for name in ("duration", "language", "speakers")
    ]


def test_speaker_names_without_a_catalog(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "voices.json").unlink()
    (root / "specs" / "numeric.yaml").write_text("source: {text: a}\nspeakers: [16098, 16093]\n")
    project = load_project(root / "acbatch.yaml")
    lines = describe(project.problems, root, Path("acbatch.yaml"))
    assert lines == [
        f"11:{column} defaults.speakers[{index}]: '{name}' is a voice name, but there is no "
        "voice catalog at voices.json to look it up: use numeric speaker ids, or save the "
        "voice list there"
        for index, (name, column) in enumerate([("ava", 14), ("leo", 19)])
    ]
    numeric = project.episode("numeric")
    assert numeric is not None and numeric.speaker_ids == (16098, 16093)


def test_a_broken_voice_catalog_is_reported_once(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "voices.json").write_text("{not json")
    for name in ("a", "b", "c"):
        (root / "specs" / f"{name}.yaml").write_text("source: {text: a}\n")
    project = load_project(root / "acbatch.yaml")
    catalog_problems = [p for p in project.problems if p.file.name == "voices.json"]
    assert len(catalog_problems) == 1
    assert catalog_problems[0].message.startswith("voice catalog: not a readable JSON")
    assert project.episodes == []


def test_review_scripts_are_skipped_and_yml_is_read(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yml").write_text("source: {text: a}\n")
    (root / "specs" / "one.script.yaml").write_text("not: a spec\n")
    (root / "specs" / ".hidden.yaml").write_text("junk: [\n")
    project = load_project(root / "acbatch.yaml")
    assert project.problems == [] and [e.id for e in project.episodes] == ["one"]


def test_only_the_given_spec_paths_are_loaded(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "good.yaml").write_text("source: {text: a}\n")
    (root / "specs" / "bad.yaml").write_text("stlye: x\nsource: {text: a}\n")
    result = load_project_files(root / "acbatch.yaml", [root / "specs" / "good.yaml"])
    assert result.project.problems == []
    assert result.files == [root / "acbatch.yaml", root / "specs" / "good.yaml"]
    everything = load_project_files(root / "acbatch.yaml", [root])
    assert len(everything.project.errors) == 1 and len(everything.files) == 3


def test_missing_config_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="acbatch init"):
        load_project(tmp_path / "acbatch.yaml")


def test_config_errors_still_let_specs_be_checked(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "acbatch.yaml").write_text("show: [\n")
    (root / "specs" / "typo.yaml").write_text("source: {text: a}\nstlye: funny\n")
    project = load_project(root / "acbatch.yaml")
    fields = [(p.file.name, p.field) for p in project.problems]
    # No "missing style" noise: the defaults are unknown while acbatch.yaml is unreadable.
    assert fields == [("acbatch.yaml", ""), ("typo.yaml", "stlye")]


def test_problems_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "b.yaml").write_text("source: {text: a}\nstyle: x\nlanguage: y\n")
    (root / "specs" / "a.yaml").write_text("source: {text: a}\nduration: 9\n")
    project = load_project(root / "acbatch.yaml")
    keys = [(p.file.name, p.line) for p in project.problems]
    assert keys == sorted(keys) and len(keys) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)),
        ("2026-11-01 09:30:15Z", datetime(2026, 11, 1, 9, 30, 15, tzinfo=timezone.utc)),
        (
            "2026-11-01T09:30:00.25-0500",
            datetime(2026, 11, 1, 9, 30, 0, 250000, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_publish_dates(text: str, expected: datetime) -> None:
    parsed = parse_publish_date(text)
    assert parsed == expected and parsed.tzinfo is not None


# --- the compiled checker agrees with jsonschema -------------------------------------------------


def corpus_documents() -> list[tuple[str, Any]]:
    found = []
    for kind, folder in ((schema.EPISODE, "specs"), (schema.SHOW, "configs")):
        for path in sorted((CORPUS / folder).glob("*.yaml")):
            try:
                found.append((kind, load_yaml_text(path.read_text(encoding="utf-8")).data))
            except YamlError:
                continue
    return found


def test_fast_checker_agrees_with_jsonschema_on_the_corpus() -> None:
    documents = corpus_documents()
    assert len(documents) > 100
    for kind, data in documents:
        checker = schema.fast_checker(kind)
        assert checker is not None
        assert checker(data) == schema.validator(kind).is_valid(data), data


SPEC_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(allow_nan=True)
    | st.sampled_from(["interview", "ava", "", "2026-11-01", "http://x.y", "a.md", "en", "x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["text", "url", "file", "role", "find", "replace", "A", "date"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)
SPECS = st.dictionaries(
    st.sampled_from(
        ["source", "style", "duration", "language", "speakers", "publish", "overrides", "id"]
    ),
    SPEC_VALUES,
    max_size=6,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(SPECS)
def test_fast_checker_never_accepts_what_jsonschema_rejects(data: dict[str, Any]) -> None:
    for kind in (schema.EPISODE, schema.DEFAULTS):
        checker = schema.fast_checker(kind)
        assert checker is not None
        if checker(data):
            assert schema.validator(kind).is_valid(data)


def test_every_schema_pattern_has_a_message() -> None:
    patterns: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema.load_schema(schema.EPISODE))
    walk(schema.load_schema(schema.SHOW))
    assert patterns <= set(schema.PATTERN_MESSAGES)


def test_schema_enums_match_the_code_table() -> None:
    defs = schema.load_schema(schema.EPISODE)["$defs"]
    assert defs["style"]["anyOf"][0]["enum"] == list(codes.STYLES)
    assert defs["duration"]["anyOf"][1]["enum"] == [d.label for d in codes.DURATIONS]
    assert defs["language"]["enum"] == codes.language_values()


# --- the command --------------------------------------------------------------------------------


def invoke(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["-C", str(root), "validate", *args], catch_exceptions=False)


def test_validate_valid_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    monkeypatch.chdir(root)
    result = invoke(root)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "valid: 2 files checked, 1 episode"


def test_validate_prints_every_problem_with_file_line_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "many-errors.yaml", root / "specs" / "many-errors.yaml")
    shutil.copy(CORPUS / "specs" / "bad-enum-style.yaml", root / "specs" / "bad-enum-style.yaml")
    monkeypatch.chdir(root)
    before = snapshot(root)
    result = invoke(root)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "specs/bad-enum-style.yaml:4:8: style: 'interveiw' is not one of educational, interview, "
        "deep-dive, storytelling, news-report, talk-show, personal-growth, funny, roast "
        "(did you mean 'interview'?)"
    )
    assert (
        lines[1]
        == "specs/many-errors.yaml:2:1: stlye: unknown field 'stlye' (did you mean 'style'?)"
    )
    assert lines[-1] == "6 problems in 2 files (3 files checked)"
    assert len(lines) == 7
    assert snapshot(root) == before


def test_validate_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "two-sources.yaml", root / "specs" / "two-sources.yaml")
    (root / "specs" / "fine.yaml").write_text("source: {text: a}\n")
    monkeypatch.chdir(root)
    result = invoke(root, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["files"] == 3 and report["episodes"] == 1
    assert report["problems"] == [
        {
            "file": "specs/two-sources.yaml",
            "line": 4,
            "column": 3,
            "field": "source.url",
            "message": "exactly one source is allowed, found text and url",
            "suggestion": None,
            "severity": "error",
        }
    ]
    assert result.stderr == ""


def test_validate_only_given_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "good.yaml").write_text("source: {text: a}\n")
    (root / "specs" / "bad.yaml").write_text("source: {text: a}\nstyle: nope\n")
    monkeypatch.chdir(root)
    assert invoke(root, "specs/good.yaml").exit_code == 0
    assert invoke(root, "specs/bad.yaml").exit_code == 1
    assert invoke(root, "specs").exit_code == 1


def test_validate_usage_errors(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("source: {text: a}\n")
    result = invoke(root, str(outside))
    assert result.exit_code == 2 and "not inside the project folder" in result.stderr
    assert invoke(root, str(root / "specs" / "missing.yaml")).exit_code == 2
    assert invoke(root, "--no-such-option").exit_code == 2


def test_validate_without_a_project(tmp_path: Path) -> None:
    result = invoke(tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("acbatch: error: no acbatch.yaml in ")
    assert "acbatch init" in result.stderr


def test_the_repository_example_show_is_valid() -> None:
    # The example show is served from localhost by the sandbox: valid for --sandbox, with the
    # one warning that a live publish would refuse that base URL.
    result = CliRunner().invoke(cli, ["-C", str(REPO), "validate", "--sandbox", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [(p["field"], p["severity"]) for p in report["problems"]] == [
        ("show.base_url", "warning")
    ]
    project: Project = load_project(REPO / "acbatch.yaml")
    by_id = {e.id: e for e in project.episodes}
    assert len(by_id) == report["episodes"] >= 6
    kinds = {e.source.kind for e in project.episodes}
    assert {"text", "file", "url"} <= kinds
    suffixes = {e.source.path.suffix for e in project.episodes if e.source.path}
    assert {".md", ".html"} <= suffixes
    assert any(len(e.speaker_ids) > 2 for e in project.episodes)
    japanese = [e for e in project.episodes if e.language == "ja"]
    assert japanese and all(set(e.speakers) <= {"yui", "haruto"} for e in japanese)
    drafts = [e for e in project.episodes if e.draft]
    assert [e.source.kind for e in drafts] == ["url"]
    now = datetime.now(timezone.utc)
    assert all(e.publish.date is not None and e.publish.date < now for e in project.episodes)
    assert all(e.publish.season and e.publish.episode for e in project.episodes)
    for episode in project.episodes:
        text = episode.source.value if episode.source.kind == "text" else ""
        if episode.source.path is not None:
            text = episode.source.path.read_text(encoding="utf-8")
        assert len(text) < 3000, f"{episode.id}: keep example sources short"


# --- through a real process -----------------------------------------------------------------------


def run_acbatch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return acbatch(*args, cwd=root, timeout=60)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "typo.yaml",
            b"source:\n  text: hello\nstlye: educational\n",
            "specs/typo.yaml:3:1: stlye: unknown field 'stlye' (did you mean 'style'?)",
        ),
        (
            "bomb.yaml",
            (CORPUS / "specs" / "yaml-bomb.yaml").read_bytes(),
            "specs/bomb.yaml:6:8: e[0]: aliases expand to more than 10,000 values",
        ),
        (
            "binary.yaml",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "specs/binary.yaml:3:1: binary file (contains NUL bytes)",
        ),
        (
            "escape.yaml",
            b"source:\n  file: ../../../etc/passwd.txt\n",
            "specs/escape.yaml:2:9: source.file: '../../../etc/passwd.txt' is outside the project",
        ),
    ],
    ids=["typo", "bomb", "binary", "escape"],
)
def test_validate_in_a_subprocess(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    root = make_project(tmp_path)
    (root / "specs" / name).write_bytes(content)
    before = snapshot(root)
    result = run_acbatch(root, "validate")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines()[0].startswith(expected)
    assert result.stderr.splitlines()[-1].startswith("1 problem in 1 file")
    assert snapshot(root) == before


def test_json_report_in_a_subprocess(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "configs" / "api-key-under-api.yaml", root / "acbatch.yaml")
    result = run_acbatch(root, "validate", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    (problem,) = report["problems"]
    assert (problem["file"], problem["line"], problem["field"]) == ("acbatch.yaml", 9, "api.key")
    assert "AUDIOCLEANER_API_KEY" in problem["message"]
    assert "sk-live" not in result.stdout


def test_user_text_in_messages_cannot_drive_the_terminal(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    lines = problems_for(
        root,
        "escapes.yaml",
        b'source: {file: "notes\\0.md"}\n"bad\\e[31mkey": 1\nstyle: "\\e[2Jred"\n',
    )
    assert lines == [
        "1:16 source.file: 'notes\\x00.md' contains a NUL character",
        "2:1 bad\\x1b[31mkey: unknown field 'bad\\x1b[31mkey'",
        "3:8 style: '\\x1b[2Jred' is not one of educational, interview, deep-dive, storytelling, "
        "news-report, talk-show, personal-growth, funny, roast",
    ]
    assert not any("\x1b" in line or "\x00" in line for line in lines)


def test_a_given_file_that_is_not_a_spec(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    result = load_project_files(root / "acbatch.yaml", [root / "specs" / "sources" / "notes.md"])
    (problem,) = result.project.problems
    assert problem.file.name == "notes.md" and "not an episode spec" in problem.message


@settings(max_examples=300, deadline=None, derandomize=True)
@given(SPECS)
def test_random_specs_only_ever_produce_problems(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    document = load_yaml_text(text)
    for kind in (schema.EPISODE, schema.DEFAULTS, schema.SHOW):
        for problem in schema.validate_document(kind, document):
            assert problem.line >= 1 and problem.column >= 1 and problem.message


def test_random_specs_through_the_whole_loader(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = make_project(tmp_path_factory.mktemp("fuzz"))
    spec = root / "specs" / "fuzzed.yaml"

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(SPECS)
    def check(data: dict[str, Any]) -> None:
        spec.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        project = load_project(root / "acbatch.yaml")
        assert bool(project.episodes) != bool(project.errors)

    check()


def test_one_problem_format(tmp_path: Path) -> None:
    """Every command prints problems through spec.model.format_problem, and str() agrees."""
    from acbatch.commands._common import format_problem as commands_format
    from acbatch.project.model import Problem, format_problem

    inside = tmp_path / "specs" / "a.yaml"
    whole_file = Problem(inside, 3, 1, "", "YAML syntax error: bad indentation")
    assert format_problem(whole_file, tmp_path) == (
        "specs/a.yaml:3:1: YAML syntax error: bad indentation"
    )
    typo = Problem(inside, 2, 1, "stlye", "unknown field 'stlye'", "style")
    assert format_problem(typo, tmp_path) == (
        "specs/a.yaml:2:1: stlye: unknown field 'stlye' (did you mean 'style'?)"
    )
    warning = Problem(inside, 1, 1, "language", "speaks de", severity="warning")
    assert format_problem(warning, tmp_path) == "specs/a.yaml:1:1: language: warning: speaks de"
    outside = Problem(Path("/elsewhere/b.yaml"), 1, 1, "", "not a regular file")
    assert format_problem(outside, tmp_path) == "/elsewhere/b.yaml:1:1: not a regular file"
    assert commands_format is format_problem
    assert str(whole_file) == format_problem(whole_file)
