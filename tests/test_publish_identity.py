"""The feed's identity: podcast:guid is recorded once and survives a move of the feed."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result

from acbatch.cli import cli
from acbatch.project.model import ShowConfig
from acbatch.publish.errors import ShowSettingsError
from acbatch.publish.feedcheck import check_feed_file, errors
from acbatch.publish.feedurls import podcast_guid
from acbatch.publish.identity import IDENTITY_FILE
from acbatch.publish.render import render_show
from tests.conftest import text_episode, write_show
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
PODCAST = "{https://podcastindex.org/namespace/1.0}"


def moved(config: ShowConfig, base_url: str) -> ShowConfig:
    return dataclasses.replace(config, show=dataclasses.replace(config.show, base_url=base_url))


def channel_of(config: ShowConfig) -> ET.Element:
    channel = ET.parse(config.paths.output / "feed.xml").getroot().find("channel")
    assert channel is not None
    return channel


def item_guids(config: ShowConfig) -> list[str]:
    return [g.text or "" for g in channel_of(config).iter("guid")]


def test_changing_base_url_keeps_the_guid_and_announces_the_new_feed_url(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show", base_url="https://old.example.com/pod/")
    episodes = [sample_episode(config, "one"), sample_episode(config, "two")]
    first = render_show(config, episodes, now=NOW)
    guid = podcast_guid("https://old.example.com/pod/feed.xml")
    assert first.podcast_guid == guid and first.new_feed_url is None
    channel = channel_of(config)
    assert channel.findtext(f"{PODCAST}guid") == guid
    assert channel.find(f"{ITUNES}new-feed-url") is None
    record = json.loads((config.paths.state / IDENTITY_FILE).read_text())
    assert record["podcast_guid"] == guid
    assert record["feed_url"] == "https://old.example.com/pod/feed.xml"
    guids_before = item_guids(config)

    new = moved(config, "https://new.example.org/show/")
    report = render_show(new, episodes, now=NOW)
    assert report.podcast_guid == guid
    assert report.new_feed_url == "https://new.example.org/show/feed.xml"
    channel = channel_of(new)
    assert channel.findtext(f"{PODCAST}guid") == guid
    assert channel.findtext(f"{ITUNES}new-feed-url") == "https://new.example.org/show/feed.xml"
    assert item_guids(new) == guids_before
    enclosure = channel.find("item/enclosure")
    assert enclosure is not None
    assert enclosure.get("url", "").startswith("https://new.example.org/show/")
    record = json.loads((config.paths.state / IDENTITY_FILE).read_text())
    assert record["previous_feed_urls"] == ["https://old.example.com/pod/feed.xml"]
    assert errors(check_feed_file(new.paths.output / "feed.xml")) == []
    parsed = feedparser.parse((new.paths.output / "feed.xml").read_bytes())
    assert not parsed.bozo
    assert parsed.feed["itunes_new-feed-url"] == "https://new.example.org/show/feed.xml"

    # Rendering again at the new address changes nothing more.
    again = render_show(new, episodes, now=NOW)
    assert (again.podcast_guid, again.new_feed_url) == (guid, report.new_feed_url)


def test_a_local_preview_records_nothing_and_reads_the_recorded_guid(tmp_path: Path) -> None:
    local = sample_config(tmp_path / "show", base_url="http://localhost:8000/")
    episodes = [sample_episode(local, "one")]
    report = render_show(local, episodes, now=NOW)
    assert report.podcast_guid == podcast_guid("http://localhost:8000/feed.xml")
    assert not (local.paths.state / IDENTITY_FILE).exists()

    public = moved(local, "https://podcast.example.net/")
    published = render_show(public, episodes, now=NOW)
    assert published.podcast_guid == podcast_guid("https://podcast.example.net/feed.xml")
    assert published.new_feed_url is None  # the first public address is no move
    preview = render_show(local, episodes, now=NOW)
    assert preview.podcast_guid == published.podcast_guid
    assert preview.new_feed_url is None


def test_show_guid_wins_and_a_damaged_record_is_one_clear_error(tmp_path: Path) -> None:
    pinned = "2b8bc3ff-7e62-5b8f-a6cb-7d2c8b6a9b1e"
    config = sample_config(tmp_path / "show", guid=pinned)
    episodes = [sample_episode(config, "one")]
    assert render_show(config, episodes, now=NOW).podcast_guid == pinned
    (config.paths.state / IDENTITY_FILE).write_text("[1, 2]")
    with pytest.raises(ShowSettingsError, match="not a feed identity record"):
        render_show(config, episodes, now=NOW)


def test_moving_a_project_feed_end_to_end(tmp_path: Path) -> None:
    """`acbatch render` records the guid, a base_url change moves the feed, `feed identity`
    tells the story."""
    config = write_show(tmp_path / "show", {"ep-1": text_episode(1)})
    root = config.parent

    def cli_run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["-C", str(root), *args], catch_exceptions=False)

    before = json.loads(cli_run("feed", "identity", "--json").stdout)
    assert before["recorded"] is False
    first = cli_run("render")
    assert first.exit_code == 0
    assert "recorded podcast:guid " in first.output
    recorded = json.loads(cli_run("feed", "identity", "--json").stdout)
    assert recorded == {
        "schema_version": 1,
        "kind": "feed-identity",
        "ok": True,
        "podcast_guid": podcast_guid("https://podcast.example.com/feed.xml"),
        "feed_url": "https://podcast.example.com/feed.xml",
        "previous_feed_urls": [],
        "recorded": True,
    }
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("https://podcast.example.com/", "https://cdn.example.org/pod/"))
    pending = cli_run("feed", "identity")
    assert "the next render moves the feed there" in pending.output
    move = cli_run("render")
    assert move.exit_code == 0
    assert (
        "the feed moved from https://podcast.example.com/feed.xml to "
        "https://cdn.example.org/pod/feed.xml" in move.output
    )
    assert "moved" not in cli_run("render").output  # said once, when it happens
    moved_to = json.loads(cli_run("feed", "identity", "--json").stdout)
    assert moved_to["podcast_guid"] == recorded["podcast_guid"]
    assert moved_to["feed_url"] == "https://cdn.example.org/pod/feed.xml"
    assert moved_to["previous_feed_urls"] == ["https://podcast.example.com/feed.xml"]
    channel = ET.parse(root / "output" / "feed.xml").getroot().find("channel")
    assert channel is not None
    assert channel.findtext(f"{PODCAST}guid") == recorded["podcast_guid"]
    assert channel.findtext(f"{ITUNES}new-feed-url") == "https://cdn.example.org/pod/feed.xml"
    check = cli_run("feed", "check")
    assert check.exit_code == 0, check.output
