"""The spec cache: unchanged valid specs are not checked again, and nothing else changes.

Every test compares a load through the cache with a fresh load of the same files, or shows that
an entry is used only while everything it depends on is unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acbatch.project.cache import (
    AREA,
    SpecCache,
    content_digest,
    context_key,
    regular_file_digest,
)
from acbatch.project.loader import load_project, load_project_files
from acbatch.project.model import Project
from acbatch.runner.state import EpisodeState, Phase, StateStore
from tests.conftest import acbatch

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


def make_project(tmp_path: Path) -> Path:
    root = tmp_path / "show"
    shutil.copytree(CORPUS / "project", root)
    return root


def cache_file(root: Path) -> Path:
    return root / ".acbatch" / "cache.sqlite3"


def sql(root: Path, statement: str, *parameters: Any) -> list[Any]:
    """Run `statement` on the project's cache store (committed)."""
    with contextlib.closing(sqlite3.connect(cache_file(root), isolation_level=None)) as db:
        return db.execute(statement, parameters).fetchall()


def load(root: Path, *, cache: bool = True) -> Project:
    return load_project(root / "acbatch.yaml", cache=cache)


def outcome(project: Project) -> tuple[list[Any], list[Any]]:
    """Everything a command sees of a load: the problems and the episodes."""
    return list(project.problems), list(project.episodes)


def assert_same_as_fresh(root: Path) -> Project:
    """Two loads through the cache (filling it, then using it) equal a load without it."""
    fresh = outcome(load(root, cache=False))
    first = load(root)
    assert outcome(first) == fresh
    second = load(root)
    assert outcome(second) == fresh
    return second


def stored_key(root: Path) -> str:
    """The context key the spec cache was written under."""
    ((key,),) = sql(root, "SELECT context FROM areas WHERE name = ?", AREA)
    return str(key)


def open_stored(root: Path) -> SpecCache:
    config = root / "acbatch.yaml"
    return SpecCache.open(root, stored_key(root), config, config.read_bytes())


def entry_for(root: Path, spec: Path) -> dict[str, Any] | None:
    return open_stored(root).get(spec, content_digest(spec.read_bytes()))


# --- the same results ----------------------------------------------------------------------------


def test_first_load_fills_the_cache_and_the_second_gives_the_same_project(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    specs = root / "specs"
    (specs / "plain.yaml").write_text("title: Plain\nsource: {text: hello}\n")
    shutil.copy(CORPUS / "specs" / "valid-full.yaml", specs / "valid-full.yaml")
    (specs / "numbered.yaml").write_text(
        "source: {url: 'https://example.com/a'}\nspeakers: [16098, nora]\n"
        "publish: {season: 3, episode: 7, date: '2026-03-01T08:00:00+02:00', draft: true}\n"
        "overrides: {replace: [{find: a, replace: b}]}\n"
    )
    assert not cache_file(root).exists()
    project = assert_same_as_fresh(root)
    assert project.problems == [] and len(project.episodes) == 3
    for name in ("plain", "valid-full", "numbered"):
        assert entry_for(root, specs / f"{name}.yaml") is not None


def test_warnings_of_a_valid_spec_come_back_from_the_cache(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "language-mismatch-warning.yaml", root / "specs" / "w.yaml")
    project = assert_same_as_fresh(root)
    assert [p.severity for p in project.problems] == ["warning", "warning"]
    assert entry_for(root, root / "specs" / "w.yaml") is not None


def test_files_with_problems_are_never_cached_and_always_reported(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "many-errors.yaml", root / "specs" / "many-errors.yaml")
    (root / "specs" / "good.yaml").write_text("source: {text: fine}\n")
    project = assert_same_as_fresh(root)
    assert len(project.errors) == 5
    assert entry_for(root, root / "specs" / "many-errors.yaml") is None
    assert entry_for(root, root / "specs" / "good.yaml") is not None


def test_nothing_is_written_when_no_spec_can_be_cached(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    shutil.copy(CORPUS / "specs" / "bad-enum-style.yaml", root / "specs" / "bad.yaml")
    assert load(root).errors
    assert not (root / "state").exists() and not (root / ".acbatch").exists()


def test_an_unchanged_cache_is_not_written_again(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    load(root)
    before = sql(root, "PRAGMA data_version"), cache_file(root).stat().st_mtime_ns
    load(root)
    assert sql(root, "SELECT count(*) FROM entries WHERE area = ?", AREA) == [(1,)]
    after = sql(root, "PRAGMA data_version"), cache_file(root).stat().st_mtime_ns
    assert after == before


# --- what an entry depends on --------------------------------------------------------------------


def test_an_entry_is_used_only_while_the_file_bytes_match(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    spec = root / "specs" / "one.yaml"
    spec.write_text("title: Written\nsource: {text: a}\n")
    load(root)
    # Change the stored result behind the cache's back: a load trusts it while the bytes match.
    stored = open_stored(root)
    digest = content_digest(spec.read_bytes())
    entry = stored.get(spec, digest)
    assert entry is not None
    entry["episodes"][0]["raw"]["title"] = "From the cache"
    stored.put(spec, digest, entry)
    assert stored.save()
    assert load(root).episodes[0].title == "From the cache"
    spec.write_text("title: Written\nsource: {text: a}\n# edited\n")
    assert load(root).episodes[0].title == "Written"


def test_editing_acbatch_yaml_invalidates_every_entry(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    assert load(root).episodes[0].style == 2  # interview, from the defaults
    config = root / "acbatch.yaml"
    config.write_text(config.read_text().replace("style: interview", "style: storytelling"))
    assert_same_as_fresh(root)
    assert load(root).episodes[0].style == 4


def test_a_comment_or_layout_edit_of_acbatch_yaml_keeps_every_entry(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    spec = root / "specs" / "one.yaml"
    spec.write_text("title: Written\nsource: {text: a}\n")
    load(root)
    stored = open_stored(root)
    digest = content_digest(spec.read_bytes())
    entry = stored.get(spec, digest)
    assert entry is not None
    # Marks the entry: a load that uses it shows this.
    entry["episodes"][0]["raw"]["title"] = "From the cache"
    stored.put(spec, digest, entry)
    assert stored.save()
    config = root / "acbatch.yaml"
    config.write_text(
        "# A comment added at the top\n\n" + config.read_text() + "\n# and one below\n"
    )
    assert load(root).episodes[0].title == "From the cache"


def test_an_entry_pointing_into_acbatch_yaml_needs_its_bytes_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "acbatch.yaml"
    spec = tmp_path / "specs" / "one.yaml"
    warning = [str(config), 7, 3, "defaults.language", "a warning", None]
    entry = {"raw": {}, "warnings": [warning], "ids": [], "numbers": []}
    plain = {"raw": {}, "warnings": [], "ids": [], "numbers": []}
    written = SpecCache(None, config_file=config, config_digest=content_digest(b"one"))
    written.put(spec, "d", entry)
    written.put(tmp_path / "plain.yaml", "d", plain)
    entries = written._entries
    same = SpecCache(
        None, config_file=config, config_digest=content_digest(b"one"), entries=entries
    )
    moved = SpecCache(
        None, config_file=config, config_digest=content_digest(b"two"), entries=entries
    )
    assert same.get(spec, "d") == entry
    assert moved.get(spec, "d") is None  # its line 7 may be another line now
    assert moved.get(tmp_path / "plain.yaml", "d") == plain


def test_editing_the_voice_catalog_invalidates_every_entry(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\nspeakers: [nora]\n")
    assert load(root).episodes[0].speaker_ids == (16101,)
    voices = root / "voices.json"
    voices.write_text(voices.read_text().replace("16101", "26101"))
    assert load(root).episodes[0].speaker_ids == (26101,)
    voices.unlink()
    project = assert_same_as_fresh(root)
    assert "no voice catalog" in project.errors[0].message


def test_the_context_key_covers_root_config_and_catalog(tmp_path: Path) -> None:
    voices = tmp_path / "voices.json"
    voices.write_text("{}")
    key = context_key(tmp_path, {"show": {}}, voices)
    assert key == context_key(tmp_path, {"show": {}}, voices)
    assert key != context_key(tmp_path / "elsewhere", {"show": {}}, voices)
    assert key != context_key(tmp_path, {"show": {"title": "x"}}, voices)
    voices.write_text("[]")
    assert key != context_key(tmp_path, {"show": {}}, voices)
    voices.unlink()
    assert context_key(tmp_path, {"show": {}}, voices) is not None
    voices.mkdir()  # there, but not a file that can be read: no caching at all
    assert context_key(tmp_path, {"show": {}}, voices) is None


def test_a_file_source_that_disappears_is_reported_though_the_spec_is_cached(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    spec = root / "specs" / "filed.yaml"
    spec.write_text("title: Filed\nsource:\n  file: sources/notes.md\n")
    project = load(root)
    assert project.episodes[0].source.path == (root / "specs" / "sources" / "notes.md").resolve()
    assert entry_for(root, spec) is not None
    (root / "specs" / "sources" / "notes.md").unlink()
    project = assert_same_as_fresh(root)
    (problem,) = project.errors
    assert (problem.line, problem.column, problem.field) == (3, 9, "source.file")
    assert problem.message == "file not found: specs/sources/notes.md"


def test_cross_file_checks_run_on_cached_specs(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    specs = root / "specs"
    (specs / "a.yaml").write_text("id: same\nsource: {text: a}\npublish: {season: 1, episode: 4}\n")
    (specs / "b.yaml").write_text(
        "source: {text: b}\n\nid: same\npublish:\n  season: 1\n  episode: 4\n"
    )
    project = assert_same_as_fresh(root)
    assert [(p.file.name, p.line, p.column, p.field) for p in project.errors] == [
        ("b.yaml", 3, 5, "id"),
        ("b.yaml", 6, 12, "publish.episode"),
    ]
    assert entry_for(root, specs / "a.yaml") is not None
    assert entry_for(root, specs / "b.yaml") is not None
    (specs / "b.yaml").unlink()
    assert load(root).problems == []


def test_a_partial_check_keeps_the_other_entries_and_a_full_one_drops_deleted_specs(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    specs = root / "specs"
    (specs / "a.yaml").write_text("source: {text: a}\n")
    (specs / "b.yaml").write_text("source: {text: b}\n")
    load(root)
    (specs / "a.yaml").write_text("source: {text: a2}\n")
    result = load_project_files(root / "acbatch.yaml", [specs / "a.yaml"], cache=True)
    assert [e.id for e in result.project.episodes] == ["a"]
    assert entry_for(root, specs / "a.yaml") is not None
    assert entry_for(root, specs / "b.yaml") is not None
    b_digest = content_digest((specs / "b.yaml").read_bytes())
    (specs / "b.yaml").unlink()
    load(root)
    assert open_stored(root).get(specs / "b.yaml", b_digest) is None
    assert len(open_stored(root)) == 1


# --- a cache that cannot be trusted or written ---------------------------------------------------


def other_version(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA user_version=0")


def other_context(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE areas SET context = 'written by something else'")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(b""), id="empty"),
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:1500]), id="truncated"),
        pytest.param(
            lambda path: path.write_bytes(b"not a cache\n" + path.read_bytes()), id="foreign"
        ),
        pytest.param(other_version, id="old"),
        pytest.param(other_context, id="other-context"),
        pytest.param(lambda path: path.write_bytes(os.urandom(4096)), id="random"),
    ],
)
def test_a_damaged_or_foreign_cache_is_ignored(tmp_path: Path, damage: Any) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("title: Real\nsource: {text: a}\n")
    load(root)
    spec = root / "specs" / "one.yaml"
    stored = open_stored(root)
    digest = content_digest(spec.read_bytes())
    entry = stored.get(spec, digest)
    assert entry is not None
    entry["episodes"][0]["raw"]["title"] = "From the cache"
    stored.put(spec, digest, entry)
    assert stored.save()
    stored.close()
    assert load(root).episodes[0].title == "From the cache"
    sql(root, "PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file, then damage it
    for suffix in ("-wal", "-shm"):
        Path(f"{cache_file(root)}{suffix}").unlink(missing_ok=True)
    damage(cache_file(root))
    project = assert_same_as_fresh(root)
    assert project.episodes[0].title == "Real"


@pytest.mark.parametrize(
    "meta",
    ["[]", "{}", '{"x": 1}', "[" * 100_000, '["d", "", {"raw": {}}]', "not json"],
    ids=["list", "empty", "bad-entry", "deep", "incomplete", "not-json"],
)
def test_a_cache_with_odd_rows_is_ignored(tmp_path: Path, meta: str) -> None:
    root = make_project(tmp_path)
    spec = root / "specs" / "one.yaml"
    spec.write_text("title: Real\nsource: {text: a}\n")
    load(root)
    sql(root, "UPDATE entries SET meta = ? WHERE area = ?", meta, AREA)
    assert load(root).episodes[0].title == "Real"


def test_an_entry_that_does_not_describe_an_episode_means_a_fresh_check(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    spec = root / "specs" / "one.yaml"
    spec.write_text("title: Real\nsource: {text: a}\n")
    load(root)
    stored = open_stored(root)
    stored.put(spec, content_digest(spec.read_bytes()), {"raw": {"source": "text"}})
    assert stored.save()
    project = assert_same_as_fresh(root)
    assert project.episodes[0].title == "Real"


def test_a_cache_folder_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / ".acbatch").write_text("a file where the folder should be\n")
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    project = assert_same_as_fresh(root)
    assert project.problems == [] and (root / ".acbatch").is_file()


def test_a_fifo_among_the_specs_is_reported_not_waited_on(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    os.mkfifo(root / "specs" / "pipe.yaml")
    (problem,) = load(root).errors
    assert problem.message == "not a regular file"


def test_an_invalid_acbatch_yaml_turns_the_cache_off(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    config = root / "acbatch.yaml"
    config.write_text(config.read_text() + "unknown_section: 1\n")
    assert load(root).errors
    assert not cache_file(root).exists()


# --- equivalence on generated specs --------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
SPEC_FIELDS = st.fixed_dictionaries(
    {"source": st.sampled_from([{"text": "hi"}, {"url": "https://example.com/x"}])},
    optional={
        "id": st.sampled_from(["alpha", "beta", "Bad Id", "x" * 81]),
        "title": TEXT | st.integers() | st.none(),
        "style": st.sampled_from(["interview", "funny", "nope", 3, 0, 12, None]),
        "duration": st.sampled_from([1, 7, 8, "1-3 min", -1]),
        "language": st.sampled_from(["en", "ja", "xx"]),
        "speakers": st.lists(
            st.sampled_from(["ava", "yui", "nobody", 16098, "16093", 0]), max_size=4
        ),
        "publish": st.fixed_dictionaries(
            {},
            optional={
                "season": st.integers(-1, 3),
                "episode": st.integers(0, 3),
                "date": st.sampled_from(["2026-11-01", "2026-02-30", "2026-11-01T09:00:00+01:00"]),
                "draft": st.booleans(),
                "keywords": st.lists(TEXT, max_size=2),
            },
        ),
        "overrides": st.fixed_dictionaries(
            {}, optional={"title": TEXT, "voices": st.just({"A": "ava"})}
        ),
    },
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(specs=st.lists(SPEC_FIELDS, min_size=1, max_size=3))
def test_generated_specs_load_the_same_through_the_cache(
    tmp_path: Path, specs: list[dict[str, Any]]
) -> None:
    root = tmp_path / "show"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(CORPUS / "project", root)
    for index, data in enumerate(specs):
        text = json.dumps(data, ensure_ascii=False)  # JSON is YAML
        (root / "specs" / f"s{index}.yaml").write_text(text, encoding="utf-8")
    assert_same_as_fresh(root)
    # An edit to one spec after caching: the others come from the cache, results unchanged.
    (root / "specs" / "s0.yaml").write_text(
        json.dumps({**specs[0], "title": "edited"}, ensure_ascii=False), encoding="utf-8"
    )
    assert_same_as_fresh(root)


# --- through the command line --------------------------------------------------------------------


def run_acbatch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return acbatch(*args, cwd=root, timeout=60)


def test_validate_plan_and_status_through_the_cache(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    shutil.copy(CORPUS / "specs" / "language-mismatch-warning.yaml", root / "specs" / "w.yaml")
    first = run_acbatch(root, "validate")
    assert first.returncode == 0, first.stderr
    assert cache_file(root).is_file()
    second = run_acbatch(root, "validate")
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr)
    plans = [run_acbatch(root, "plan", "--json") for _ in range(2)]
    assert plans[0].returncode == 0 and plans[0].stdout == plans[1].stdout
    assert [e["id"] for e in json.loads(plans[0].stdout)["episodes"]] == ["one", "w"]
    status = run_acbatch(root, "status", "--json")
    assert status.returncode == 0
    assert [e["phase"] for e in json.loads(status.stdout)["episodes"]] == ["new", "new"]
    # The cache is no episode's state.
    assert StateStore(root / "state").all_ids() == []


def test_the_cache_folder_ignores_itself_in_git(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "specs" / "one.yaml").write_text("source: {text: a}\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    load(root)
    assert cache_file(root).is_file()
    listed = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "specs/one.yaml" in listed and ".acbatch" not in listed
    # The old cache files' names are gone from the ignore files (nothing writes them now).
    for gitignore in (REPO / ".gitignore", REPO / "acbatch" / "scaffold" / "files" / "gitignore"):
        assert "cache.bin" not in gitignore.read_text()


# --- state files read more than once -------------------------------------------------------------


def test_a_state_read_again_is_an_equal_but_separate_object(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    state = EpisodeState(id="ep", phase=Phase.SCRIPT_READY)
    state.script.result = {"podcast_script": [{"text": "hello"}]}
    store.save(state)
    first = store.load("ep")
    assert first is not None and first.script.result is not None
    first.script.result["podcast_script"][0]["text"] = "changed in memory only"
    second = store.load("ep")
    assert second is not None and second.script.result is not None
    assert second.script.result["podcast_script"][0]["text"] == "hello"
    assert second == store.load("ep")


def test_a_state_changed_on_disk_is_read_again(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    store.save(EpisodeState(id="ep", phase=Phase.NEW))
    assert store.load("ep").phase == Phase.NEW  # type: ignore[union-attr]
    path = store.path_for("ep")
    data = json.loads(path.read_text())
    data["phase"] = "script_ready"
    path.write_text(json.dumps(data))  # the same file, rewritten in place
    assert store.load("ep").phase == Phase.SCRIPT_READY  # type: ignore[union-attr]
    other = EpisodeState(id="ep", phase=Phase.RENDERED)
    store.save(other)
    assert store.load("ep").phase == Phase.RENDERED  # type: ignore[union-attr]
    path.unlink()
    assert store.load("ep") is None


def test_saved_names_tell_which_states_can_exist(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    assert store.saved_names() == set()
    assert not store.has_saved("ep", store.saved_names())
    store.save(EpisodeState(id="ep"))
    saved = store.saved_names()
    assert store.has_saved("ep", saved) and not store.has_saved("other", saved)
    assert store.has_saved("anything", None)
    (tmp_path / "file").write_text("")
    assert StateStore(tmp_path / "file").saved_names() is None


def test_every_file_whose_code_decides_a_spec_result_exists() -> None:
    """A renamed module must not drop out of the cache's code digest unnoticed."""
    import acbatch
    from acbatch.project.cache import CODE_FILES

    package = Path(acbatch.__file__).parent
    assert [name for name in CODE_FILES if not (package / name).is_file()] == []


def test_a_file_digest_reads_only_regular_files(tmp_path: Path) -> None:
    """A FIFO or a folder gives no digest, at once (the render's and the templates' change
    checks never hang on one)."""
    data = b"x" * 300_000
    (tmp_path / "file").write_bytes(data)
    assert regular_file_digest(tmp_path / "file") == content_digest(data)
    os.mkfifo(tmp_path / "pipe")
    assert regular_file_digest(tmp_path / "pipe") is None
    assert regular_file_digest(tmp_path) is None
    assert regular_file_digest(tmp_path / "missing") is None
