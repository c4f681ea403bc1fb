"""A run renders each finished episode's own outputs while it waits on the others.

Tags, notes, transcripts, chapters and feed items are made as each episode finishes, so the
run's render has only the feed and the site left. Every test drives a real run against the
tests' strict API double (tests/double.py) and compares what was published with a render made
from nothing.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from acbatch.project.loader import load_project
from acbatch.publish.mastering import master, settings_for
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.engine import Outcome
from acbatch.runner.published import render_project
from acbatch.runner.state import StateStore
from tests.conftest import acbatch, text_episode, write_show
from tests.double import StrictDouble
from tests.test_render_known import outputs

KEY = "double-key-4242"


@pytest.fixture
def double() -> Any:
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as server:
        yield server


def show(root: Path, count: int = 4) -> Path:
    api = {"jobs": 2, "polling": {"initial": 0.05, "max_interval": 0.2}}
    return write_show(root, {f"ep-{n}": text_episode(n) for n in range(1, count + 1)}, api=api)


def run(config: Path, double: StrictDouble, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)
    project = load_project(config)
    assert not project.errors, [str(p) for p in project.errors]
    return run_project(project, RunRequest(base_url=double.url, seed=7, poll_initial=0.05))


def rendered_from_nothing(root: Path) -> dict[str, bytes]:
    """The outputs of the same show rendered by `acbatch render` with no render cache, and the
    MP3s as the run downloaded and mastered them (untagged)."""
    copy = root.parent / f"{root.name}-cold"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / ".acbatch")
    project = load_project(copy / "acbatch.yaml")
    store = StateStore(project.config.paths.state)
    for episode_id in store.all_ids():
        state = store.load(episode_id)
        assert state is not None and state.mastered is not None
        mastered = copy / state.mastered.path
        original = copy / state.download.path  # type: ignore[union-attr]
        # The published file again, before any tag: the render tags it from scratch.
        master(original, mastered, settings_for(project.config.audio))
    render_project(project, store)
    return outputs(copy)


def test_a_run_renders_each_episode_as_it_finishes(
    tmp_path: Path, double: StrictDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = show(tmp_path / "show")
    result = run(config, double, monkeypatch)
    assert [r.outcome for r in result.summary.results] == [Outcome.DONE] * 4
    assert result.render_error is None
    # Every episode was current when the run's render came to it: rendered ahead.
    assert sorted(result.rendered.unchanged) == ["ep-1", "ep-2", "ep-3", "ep-4"]
    feed = feedparser.parse(tmp_path / "show" / "output" / "feed.xml")
    assert len(feed.entries) == 4 and not feed.bozo
    assert outputs(tmp_path / "show") == rendered_from_nothing(tmp_path / "show")


def test_an_episode_not_yet_due_is_not_rendered_ahead(
    tmp_path: Path, double: StrictDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its notes would be on the site (and uploaded) before its date."""
    config = show(tmp_path, count=2)
    spec = tmp_path / "specs" / "ep-2.yaml"
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["publish"] = {"date": (date.today() + timedelta(days=30)).isoformat()}
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run(config, double, monkeypatch)
    assert [r.outcome for r in result.summary.results] == [Outcome.DONE] * 2
    assert result.rendered.unchanged == ["ep-1"]
    assert "ep-2" in result.rendered.left_out
    assert not (tmp_path / "output" / "episodes" / "ep-2" / "notes.html").exists()


def test_a_broken_template_is_reported_once_by_the_render(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = show(tmp_path, count=2)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "notes.md.j2").write_text("{{ episode.title | no_such_filter }}\n", "utf-8")
    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
    done = acbatch("-C", str(tmp_path), "run", env=env, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.count("no_such_filter") == 1, done.stderr
    assert double.created("audio") == 2
    assert config.is_file()
