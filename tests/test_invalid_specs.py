"""One bad spec never blocks the rest: named episodes, --skip-invalid, one problem format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from acbatch.commands._common import select_valid
from acbatch.project.loader import load_project
from tests.conftest import acbatch, text_episode, write_show

BROKEN_SPEC = "source: {text: A spec with a typo.}\nstlye: interview\n"
BROKEN_LINE = "specs/bad.yaml:2:1: stlye: unknown field 'stlye' (did you mean 'style'?)"


def show_with_a_bad_spec(root: Path) -> Path:
    config = write_show(root, {"ep-1": text_episode(1), "ep-2": text_episode(2)})
    (root / "specs" / "bad.yaml").write_text(BROKEN_SPEC, encoding="utf-8")
    return config


def test_select_valid_splits_the_project(tmp_path: Path) -> None:
    config = show_with_a_bad_spec(tmp_path)
    project = load_project(config)
    kept, invalid, blocking = select_valid(project)
    assert [e.id for e in kept.episodes] == ["ep-1", "ep-2"]
    assert [(s.episode_id, s.path.name) for s in invalid] == [("bad", "bad.yaml")]
    assert [p.field for p in blocking] == ["stlye"]
    assert [p.field for p in kept.errors] == ["stlye"]  # it stops the command
    assert select_valid(project, ("ep-1",))[2] == []
    assert [p.field for p in select_valid(project, ("bad",))[2]] == ["stlye"]
    skipping, _, nothing = select_valid(project, skip_invalid=True)
    assert nothing == [] and skipping.errors == [] and len(skipping.episodes) == 2
    # acbatch.yaml errors stop everything, named episodes or not.
    text = config.read_text().replace("title: Test Show", "titel: Test Show")
    config.write_text(text)
    broken_show = load_project(config)
    for ids, skip in (((), True), (("ep-1",), False)):
        assert any(p.file.name == "acbatch.yaml" for p in select_valid(broken_show, ids, skip)[2])


def test_a_named_episode_runs_despite_another_invalid_spec(tmp_path: Path) -> None:
    show_with_a_bad_spec(tmp_path)
    named = acbatch("run", "--sandbox", "--json", "ep-1", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["outcomes"] == {"done": 1}
    assert "specs/bad.yaml" in named.stderr  # a one-line note, not a refusal
    refused = acbatch("run", "--sandbox", "bad", cwd=tmp_path)
    assert refused.returncode == 1
    assert BROKEN_LINE in refused.stderr.splitlines()
    assert "nothing was run" in refused.stderr


@pytest.mark.slow
def test_a_full_run_refuses_unless_skip_invalid(tmp_path: Path) -> None:
    show_with_a_bad_spec(tmp_path)
    refused = acbatch("run", "--sandbox", cwd=tmp_path)
    assert refused.returncode == 1
    assert BROKEN_LINE in refused.stderr.splitlines()
    assert "1 problem found; nothing was run" in refused.stderr
    assert not (tmp_path / "state" / "sandbox" / "ep-1.json").exists()

    skipping = acbatch("run", "--sandbox", "--skip-invalid", "--json", cwd=tmp_path)
    assert skipping.returncode == 1, skipping.stderr
    assert json.loads(skipping.stdout)["outcomes"] == {"done": 2}
    assert BROKEN_LINE in skipping.stderr.splitlines()
    last = skipping.stderr.strip().splitlines()[-1]
    assert last == (
        "acbatch: error: 1 invalid spec skipped: bad (specs/bad.yaml); see `acbatch validate`"
    )
    feed = (tmp_path / "sandbox" / "output" / "feed.xml").read_text(encoding="utf-8")
    assert feed.count("<item>") == 2

    planned = acbatch("plan", "--sandbox", "--skip-invalid", "--json", cwd=tmp_path)
    assert planned.returncode == 1
    assert [e["id"] for e in json.loads(planned.stdout)["episodes"]] == ["ep-1", "ep-2"]
    assert acbatch("plan", "--sandbox", cwd=tmp_path).returncode == 1
    for command in ("run", "plan"):
        assert "--skip-invalid" in acbatch(command, "--help", cwd=tmp_path).stdout


def test_a_published_episode_with_a_broken_spec_keeps_the_feed(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1), "ep-2": text_episode(2)})
    first = acbatch("run", "--sandbox", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    feed = tmp_path / "sandbox" / "output" / "feed.xml"
    published = feed.read_bytes()
    spec = tmp_path / "specs" / "ep-2.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "stlye: interview\n", encoding="utf-8")
    again = acbatch("run", "--sandbox", "--skip-invalid", cwd=tmp_path)
    assert again.returncode == 1
    assert "the feed and site are not rendered" in again.stderr
    assert "ep-2 (specs/ep-2.yaml)" in again.stderr
    assert feed.read_bytes() == published


def test_yaml_errors_read_the_same_in_every_command(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    (tmp_path / "specs" / "broken.yaml").write_text("source: {text: [unclosed\n")
    lines = {}
    for command in (("validate",), ("plan",), ("run", "--sandbox")):
        result = acbatch(*command, cwd=tmp_path)
        assert result.returncode == 1
        lines[command[0]] = [
            line for line in result.stderr.splitlines() if line.startswith("specs/broken.yaml:")
        ]
    assert lines["validate"] == lines["plan"] == lines["run"]
    assert len(lines["validate"]) == 1
    line = lines["validate"][0]
    assert "<root>" not in line and "YAML syntax error" in line
    assert line.startswith("specs/broken.yaml:2:1: YAML syntax error")


def test_each_run_line_is_printed_once(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1, review="required")})
    result = acbatch("run", "--sandbox", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    waiting = [line for line in result.stderr.splitlines() if "waiting for review" in line]
    assert waiting == [
        "  ep-1: awaiting_review: waiting for review: edit sandbox/reviews/ep-1.script.yaml, "
        "then `acbatch approve --sandbox ep-1`"
    ]
    detailed = acbatch("-v", "run", "--sandbox", cwd=tmp_path)
    assert sum("waiting for review" in line for line in detailed.stderr.splitlines()) == 1


def test_the_run_summary_counts_in_words(tmp_path: Path) -> None:
    from acbatch.commands._common import run_summary_lines
    from acbatch.runner.batch import RunRequest, run_project

    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = run_project(load_project(config), RunRequest(sandbox=True))
        lines = run_summary_lines(result)
    finally:
        os.chdir(cwd)
    assert lines[0].startswith("acbatch: 1 episode: 1 done; ")
    assert " API requests (1 script create, 1 billed audio create); " in lines[0]
    assert lines[-1] == "acbatch: feed sandbox/output/feed.xml with 1 episode"
