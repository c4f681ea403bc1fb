"""What render_show redoes after a change, and what it may keep from the last render."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from acbatch.project.defaults import build
from acbatch.project.model import Publish, ShowConfig
from acbatch.publish.errors import FeedCheckError
from acbatch.publish.feedcheck import check_feed_file
from acbatch.publish.model import PublishedEpisode
from acbatch.publish.render import render_show
from acbatch.publish.templating import Templates
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
ITEM_TEMPLATES = ("feed_item.xml.j2", "index_item.html.j2")


@pytest.fixture
def config(tmp_path: Path) -> ShowConfig:
    return sample_config(tmp_path / "show")


def episodes_of(config: ShowConfig, count: int = 3) -> list[PublishedEpisode]:
    return [
        sample_episode(
            config,
            f"ep{i}",
            seconds=0.5,
            pub_date=NOW - timedelta(days=i + 1),
            publish=build(Publish, season=1, episode=i + 1),
        )
        for i in range(count)
    ]


def per_episode_files(config: ShowConfig) -> dict[Path, int]:
    folder = config.paths.output / "episodes"
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def items_of(config: ShowConfig) -> tuple[str, str]:
    output = config.paths.output
    return (
        (output / "feed.xml").read_text(encoding="utf-8"),
        (output / "index.html").read_text(encoding="utf-8"),
    )


def override(config: ShowConfig, name: str, marker: str) -> None:
    """A copy of built-in item template `name` printing `marker` in every item."""
    config.paths.templates.mkdir(parents=True, exist_ok=True)
    closing = "</item>" if name.startswith("feed") else "</article>"
    source = Templates(None).source(name).replace(closing, f"<!-- {marker} -->\n{closing}")
    (config.paths.templates / name).write_text(source, encoding="utf-8")


def test_template_override_rerenders_every_item(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    render_show(config, episodes, now=NOW)
    files = per_episode_files(config)

    for name in ITEM_TEMPLATES:
        override(config, name, "{{ show.title }} / {{ episode.id }}")
    report = render_show(config, episodes, now=NOW)
    feed, site = items_of(config)
    for episode in episodes:
        assert f"<!-- Sample Show / {episode.id} -->\n</item>" in feed
        assert f"<!-- Sample Show / {episode.id} -->\n</article>" in site
    assert report.unchanged == []
    assert per_episode_files(config) == files  # no MP3 re-tagged, no notes rewritten

    # Editing the override again redoes every item again.
    for name in ITEM_TEMPLATES:
        override(config, name, "second {{ episode.id }}")
    render_show(config, episodes, now=NOW)
    feed, site = items_of(config)
    assert feed.count("<!-- second ep") == site.count("<!-- second ep") == len(episodes)
    assert "Sample Show /" not in feed + site


def test_show_setting_change_rerenders_every_item(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    for name in ITEM_TEMPLATES:
        override(config, name, "{{ show.title }}")
    render_show(config, episodes, now=NOW)
    files = per_episode_files(config)

    renamed = replace(config, show=replace(config.show, title="Renamed Show"))
    report = render_show(renamed, episodes, now=NOW)
    feed, site = items_of(renamed)
    assert feed.count("<!-- Renamed Show -->") == site.count("<!-- Renamed Show -->") == 3
    assert "<!-- Sample Show -->" not in feed + site
    assert report.unchanged == []
    # The notes show the title too: they follow (the MP3 tags carry it: re-tagged as well).
    assert set(files) <= set(report.written)

    explicit = replace(renamed, show=replace(renamed.show, explicit=True))
    before = per_episode_files(explicit)
    render_show(explicit, episodes, now=NOW)
    feed, _ = items_of(explicit)
    assert feed.count("<itunes:explicit>true</itunes:explicit>") == 1 + len(episodes)
    # The built-in notes do not show show.explicit: no per-episode file is rewritten for it.
    assert per_episode_files(explicit) == before


def test_notes_follow_the_show_fields_their_templates_read(config: ShowConfig) -> None:
    episodes = episodes_of(config, 1)
    render_show(config, episodes, now=NOW)
    notes = config.paths.output / "episodes/ep0/notes.md"
    first = notes.stat().st_mtime_ns

    described = replace(config, show=replace(config.show, description="Another description."))
    report = render_show(described, episodes, now=NOW)
    assert notes.stat().st_mtime_ns == first and notes not in report.written

    config.paths.templates.mkdir(parents=True)
    (config.paths.templates / "notes.md.j2").write_text(
        "{{ show.description }} / {{ episode.title }}\n", encoding="utf-8"
    )
    render_show(described, episodes, now=NOW)
    assert notes.read_text(encoding="utf-8") == "Another description. / Episode ep0\n"
    newer = replace(config, show=replace(config.show, description="Third."))
    report = render_show(newer, episodes, now=NOW)
    assert notes in report.written
    assert notes.read_text(encoding="utf-8") == "Third. / Episode ep0\n"


def test_a_deleted_file_comes_back_once_its_folder_is_trusted(config: ShowConfig) -> None:
    episodes = episodes_of(config, 1)
    render_show(config, episodes, now=NOW)
    folder = config.paths.output / "episodes/ep0"
    # An hour-old folder: its mtime is settled, so the next render records it...
    an_hour_ago = os.stat(folder).st_mtime_ns - 3600 * 10**9
    os.utime(folder, ns=(an_hour_ago, an_hour_ago))
    assert sorted(render_show(config, episodes, now=NOW).unchanged) == ["ep0"]
    # ...and one render later a deletion (which moves the folder's mtime) is noticed.
    (folder / "notes.md").unlink()
    report = render_show(config, episodes, now=NOW)
    assert folder / "notes.md" in report.written and (folder / "notes.md").is_file()
    assert report.unchanged == []


def test_item_findings_follow_a_show_change_that_breaks_every_item(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    render_show(config, episodes, now=NOW)
    config.paths.templates.mkdir(parents=True)
    broken = (
        Templates(None)
        .source("feed_item.xml.j2")
        .replace("<itunes:duration>{{ episode.duration }}", "<itunes:duration>{{ show.title }}")
    )
    (config.paths.templates / "feed_item.xml.j2").write_text(broken, encoding="utf-8")
    with pytest.raises(FeedCheckError) as caught:
        render_show(config, episodes, now=NOW)
    durations = [p for p in caught.value.problems if p.where == "item/itunes:duration"]
    assert [p.item_position for p in durations] == [1, 2, 3]
    assert "'Sample Show' is not seconds" in durations[0].message

    renamed = replace(config, show=replace(config.show, title="12:30"))
    report = render_show(renamed, episodes, now=NOW)
    assert not [p for p in report.problems if p.severity == "error"]
    full = check_feed_file(renamed.paths.output / "feed.xml")
    assert [str(p) for p in full] == [str(p) for p in report.problems]


def test_findings_stay_complete_from_custom_channel_back_to_builtin(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    broken = replace(episodes[1], guid=" ")
    config.paths.templates.mkdir(parents=True)
    custom = config.paths.templates / "feed.xml.j2"
    custom.write_text(Templates(None).source("feed.xml.j2") + "<!-- custom -->\n", "utf-8")
    with pytest.raises(FeedCheckError):
        render_show(config, [episodes[0], broken, episodes[2]], now=NOW)
    custom.unlink()
    with pytest.raises(FeedCheckError) as caught:
        render_show(config, [episodes[0], broken, episodes[2]], now=NOW)
    assert [(p.where, p.item_position) for p in caught.value.problems if p.in_item] == [
        ("item/guid", 2)
    ]


def test_same_input_same_bytes(tmp_path: Path) -> None:
    trees = []
    for folder in ("one", "two"):
        config = sample_config(tmp_path / folder / "show")
        render_show(config, episodes_of(config), now=NOW)
        render_show(config, episodes_of(config), now=NOW + timedelta(days=1))
        output = config.paths.output
        trees.append(
            {
                path.relative_to(output): path.read_bytes()
                for path in sorted(output.rglob("*"))
                if path.is_file()
            }
        )
    assert trees[0] == trees[1]


def test_every_episode_field_is_part_of_its_digest(config: ShowConfig) -> None:
    from dataclasses import fields

    from acbatch.publish.model import Highlight, Person, Turn, episode_digest

    episode = episodes_of(config, 1)[0]
    changed = {
        "id": "other",
        "guid": "urn:other",
        "title": "Other",
        "description": "Other.",
        "audio_path": episode.audio_path.with_name("other.mp3"),
        "duration": 9.5,
        "turns": (*episode.turns, Turn("B", "Bob", "One more line.")),
        "highlights": (Highlight("Other", 0, 0),),
        "speakers": ("Carol",),
        "pub_date": episode.pub_date + timedelta(seconds=1),
        "publish": replace(episode.publish, keywords=("new",)),
        "language": "ja",
        "source_link": "https://other.example.com/",
        "people": (Person("Carol", "guest", "https://example.com/carol.png"),),
        "speech_start": 2.5,
        "speech_seconds": 7.0,
    }
    # `alternates` (the episode in the show's other languages) changes only its notes page, so
    # it is part of the notes' key rather than the digest (which also decides the MP3's tags).
    assert set(changed) | {"alternates"} == {f.name for f in fields(episode)}
    assert episode_digest(replace(episode, alternates=(("ja", "x"),))) == episode_digest(episode)
    digests = {episode_digest(replace(episode, **{name: value})) for name, value in changed.items()}
    assert episode_digest(episode) not in digests and len(digests) == len(changed)
    assert episode_digest(episode) == episode_digest(replace(episode))


def stored_episode_ids(config: ShowConfig) -> list[str]:
    store = config.paths.config.parent / ".acbatch" / "cache.sqlite3"
    with contextlib.closing(sqlite3.connect(store)) as connection:
        rows = connection.execute(
            "SELECT key FROM entries WHERE area = 'render-episodes' ORDER BY key"
        ).fetchall()
    return [key for (key,) in rows]


def test_the_cache_is_one_row_per_episode_in_a_folder_git_ignores(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    render_show(config, episodes, now=NOW)
    folder = config.paths.config.parent / ".acbatch"
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert stored_episode_ids(config) == ["ep0", "ep1", "ep2"]
    assert not list(config.paths.state.glob(".*cache*"))  # nothing cached beside the state

    report = render_show(config, episodes[:2], now=NOW)  # ep2 gone: its row goes too
    assert report.unchanged == ["ep0", "ep1"]
    assert stored_episode_ids(config) == ["ep0", "ep1"]


def test_a_damaged_cache_store_means_a_cold_render_not_a_failure(config: ShowConfig) -> None:
    episodes = episodes_of(config)
    render_show(config, episodes, now=NOW)
    feed = (config.paths.output / "feed.xml").read_bytes()
    store = config.paths.config.parent / ".acbatch" / "cache.sqlite3"
    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    store.write_bytes(b"not a database" * 100)

    report = render_show(config, episodes, now=NOW)
    assert report.unchanged == []  # nothing could be trusted
    assert (config.paths.output / "feed.xml").read_bytes() == feed
    assert render_show(config, episodes, now=NOW).unchanged == ["ep0", "ep1", "ep2"]
