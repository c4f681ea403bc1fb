"""A render builds again only the episodes whose spec, state or shared inputs changed.

An episode is published from its spec, its state file, the voice catalog and the show's hosts.
When none of them changed since the last render, the render takes the episode as it was
(publish date, digest, audio path) without reading its state file: a large show renders in a
fraction of the time. These tests check that the shortcut is taken exactly when it may be: any
change to what an episode is built from gives the same output as a render with no memory at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import feedparser
import pytest
import yaml

from acbatch.project.loader import load_project
from acbatch.project.model import Project
from acbatch.publish.errors import PublishError
from acbatch.runner.engine import audio_path
from acbatch.runner.published import render_project
from acbatch.runner.state import Download, EpisodeState, Phase, StateStore
from tests.conftest import text_episode, write_show
from tests.samples import mp3_bytes

LAST_BUILD = re.compile(rb"<lastBuildDate>[^<]*</lastBuildDate>")


class CountingStore(StateStore):
    """A state store that counts the state files it reads (an episode built again is read
    twice when its state is moved to `rendered`: once to build it, once to save it)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.loaded: list[str] = []

    def load(self, episode_id: str) -> EpisodeState | None:
        self.loaded.append(episode_id)
        return super().load(episode_id)


def finished_show(root: Path, count: int = 4, **defaults: object) -> Path:
    """A show whose episodes are all downloaded, as a run leaves them."""
    base = {"style": "interview", "duration": 1, "language": "en", "speakers": ["ava", "leo"]}
    if "languages" in defaults:
        del base["language"]
    specs = {f"ep-{n}": text_episode(n) for n in range(1, count + 1)}
    config = write_show(root, specs, defaults={**base, **defaults})
    project = load_project(config)
    store = StateStore(project.config.paths.state)
    store.folder.mkdir(parents=True, exist_ok=True)
    audio = mp3_bytes(1.0)
    for number, episode in enumerate(project.episodes, start=1):
        mp3 = audio_path(project, episode)
        mp3.parent.mkdir(parents=True, exist_ok=True)
        mp3.write_bytes(audio)
        store.save(finished_state(episode.id, number, mp3.relative_to(root).as_posix(), audio))
    return config


def finished_state(episode_id: str, number: int, relpath: str, audio: bytes) -> EpisodeState:
    script = [
        {"role": "host", "name": "Ava", "text": f"Welcome to episode {number}."},
        {"role": "guest", "name": "Leo", "text": "Glad to be here."},
    ]
    state = EpisodeState(id=episode_id, phase=Phase.DOWNLOADED, guid=f"guid-{episode_id}")
    state.script.result = {"title": f"Made title {number}", "podcast_script": script}
    state.audio.result = {"podcast_script": script}
    state.download = Download(
        path=relpath,
        bytes=len(audio),
        sha256="0" * 64,
        duration=1.0,
        downloaded_at=f"2026-01-{number:02d}T00:00:00Z",
    )
    return state


def render(config: Path) -> tuple[Project, CountingStore]:
    project = load_project(config)
    store = CountingStore(project.config.paths.state)
    render_project(project, store)
    return project, store


def outputs(root: Path) -> dict[str, bytes]:
    """Every file under output/, the feed's build date taken out."""
    found = {}
    for path in sorted((root / "output").rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = LAST_BUILD.sub(b"", path.read_bytes())
    return found


def feed_titles(root: Path) -> list[str]:
    return [entry.title for entry in feedparser.parse(root / "output" / "feed.xml").entries]


def forget_everything(root: Path) -> None:
    shutil.rmtree(root / ".acbatch", ignore_errors=True)


def assert_same_as_a_render_from_nothing(root: Path) -> None:
    """A render from a cold cache (every state read, every file rewritten) gives the same
    output as the render just made."""
    remembered = outputs(root)
    copy = root.parent / f"{root.name}-cold"
    shutil.copytree(root, copy)
    forget_everything(copy)
    render(copy / "acbatch.yaml")
    assert outputs(copy) == remembered


def test_an_unchanged_show_is_rendered_without_reading_its_state(tmp_path: Path) -> None:
    config = finished_show(tmp_path)
    _project, first = render(config)
    assert set(first.loaded) == {"ep-1", "ep-2", "ep-3", "ep-4"}
    _project, second = render(config)
    assert second.loaded == []
    feed = feedparser.parse((tmp_path / "output" / "feed.xml").read_bytes())
    assert len(feed.entries) == 4
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_changed_spec_builds_that_episode_again(tmp_path: Path) -> None:
    config = finished_show(tmp_path)
    render(config)
    spec = tmp_path / "specs" / "ep-2.yaml"
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data["title"] = "A better title"
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    _project, store = render(config)
    assert set(store.loaded) == {"ep-2"}
    titles = feed_titles(tmp_path)
    assert "A better title" in titles
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_changed_state_builds_that_episode_again(tmp_path: Path) -> None:
    """A redo's new script (the title the API gave, its turns) is published on the next render,
    even when the state file keeps its size."""
    config = finished_show(tmp_path)
    render(config)
    state_file = tmp_path / "state" / "ep-3.json"
    before = state_file.stat()
    data = json.loads(state_file.read_text(encoding="utf-8"))
    data["script"]["result"]["title"] = "Made title X"  # same length as "Made title 3"
    temporary = state_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, state_file)
    os.utime(state_file, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime kept as well
    assert state_file.stat().st_size == before.st_size
    _project, store = render(config)
    assert set(store.loaded) == {"ep-3"}
    titles = feed_titles(tmp_path)
    assert "Made title X" in titles
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_changed_voice_catalog_builds_every_episode_again(tmp_path: Path) -> None:
    """The catalog names the people of every episode (podcast:person)."""
    config = finished_show(tmp_path)
    render(config)
    voices = tmp_path / "voices.json"
    catalog = json.loads(voices.read_text(encoding="utf-8"))
    for record in catalog["data"]["records"]:
        if record.get("name", "").casefold() == "ava":
            record["display_name"] = "Ava Renamed"
    voices.write_text(json.dumps(catalog), encoding="utf-8")
    _project, store = render(config)
    assert set(store.loaded) == {"ep-1", "ep-2", "ep-3", "ep-4"}
    assert b"Ava Renamed" in (tmp_path / "output" / "feed.xml").read_bytes()
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_known_episode_whose_audio_went_missing_stops_the_render(tmp_path: Path) -> None:
    config = finished_show(tmp_path)
    render(config)
    feed = (tmp_path / "output" / "feed.xml").read_bytes()
    (tmp_path / "output" / "episodes" / "ep-4" / "ep-4.mp3").unlink()
    with pytest.raises(PublishError, match="ep-4") as raised:
        render(config)
    assert "acbatch run" in str(raised.value)
    assert (tmp_path / "output" / "feed.xml").read_bytes() == feed


def test_template_and_show_changes_reach_known_episodes(tmp_path: Path) -> None:
    """A known episode is built whole when its item must be rendered again."""
    config = finished_show(tmp_path)
    render(config)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["show"]["explicit"] = True
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    _project, store = render(config)
    assert set(store.loaded) == {"ep-1", "ep-2", "ep-3", "ep-4"}
    feed = (tmp_path / "output" / "feed.xml").read_text(encoding="utf-8")
    assert feed.count("<itunes:explicit>true</itunes:explicit>") >= 4
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_trailer_and_a_draft_among_known_episodes(tmp_path: Path) -> None:
    config = finished_show(tmp_path)
    render(config)
    for name, publish in (("ep-1", {"episode_type": "trailer"}), ("ep-2", {"draft": True})):
        spec = tmp_path / "specs" / f"{name}.yaml"
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
        data.setdefault("publish", {}).update(publish)
        spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    render(config)
    _project, store = render(config)
    assert set(store.loaded) == {"ep-1"}  # a trailer's channel entry needs its whole episode
    feed = feedparser.parse(tmp_path / "output" / "feed.xml")
    assert len(feed.entries) == 3
    assert b"<podcast:trailer" in (tmp_path / "output" / "feed.xml").read_bytes()
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_show_in_two_languages_keeps_its_links_when_rendered_from_memory(
    tmp_path: Path,
) -> None:
    config = finished_show(tmp_path, count=2, languages=["en", "ja"])
    render(config)
    notes = tmp_path / "output" / "ja" / "episodes" / "ep-1.ja" / "notes.html"
    assert 'hreflang="en"' in notes.read_text(encoding="utf-8")
    _project, store = render(config)
    assert store.loaded == []
    assert 'hreflang="en"' in notes.read_text(encoding="utf-8")
    assert_same_as_a_render_from_nothing(tmp_path)


def test_a_checkout_with_its_cache_restored_renders_from_memory(tmp_path: Path) -> None:
    """In CI the state files come from git (new files, in the same folder) and .acbatch/ from
    the workflow's cache: the same bytes are the same state."""
    show = tmp_path / "show"
    config = finished_show(show)
    render(config)
    rendered = outputs(show)
    show.rename(tmp_path / "before")
    shutil.copytree(tmp_path / "before", show)
    _project, store = render(config)
    assert store.loaded == []
    _project, store = render(config)  # the new identities were recorded
    assert store.loaded == []
    assert outputs(show) == rendered
