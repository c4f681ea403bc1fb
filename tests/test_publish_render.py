"""render_show end to end on real MP3 files: feed, per-episode files, tags, filtering."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from acbatch.errors import UserError
from acbatch.project.defaults import build
from acbatch.project.model import Publish, ShowConfig
from acbatch.publish import id3
from acbatch.publish.errors import (
    AudioFileError,
    FeedCheckError,
    ShowSettingsError,
    TemplateError,
)
from acbatch.publish.model import Chapter, Highlight, PublishedEpisode, Turn
from acbatch.publish.render import render_show
from acbatch.publish.text import xml_safe
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
NASTY = "<script>alert('x')</script> ]]> & \"quotes\" 🎙️ café"


class TextAndTags(HTMLParser):
    """Collects visible text and every tag name of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(path: Path) -> TextAndTags:
    parser = TextAndTags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def three_episodes(config: ShowConfig) -> list[PublishedEpisode]:
    start = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
    return [
        sample_episode(
            config,
            f"ep{i}",
            seconds=2.0 + i,
            pub_date=start + timedelta(days=i),
            publish=build(Publish, season=1, episode=i + 1),
        )
        for i in range(3)
    ]


@pytest.fixture
def config(tmp_path: Path) -> ShowConfig:
    return sample_config(tmp_path / "show")


def test_feed_round_trips_through_feedparser(config: ShowConfig) -> None:
    episodes = three_episodes(config)
    report = render_show(config, episodes, now=NOW)
    feed_path = config.paths.output / "feed.xml"
    assert report.feed_path == feed_path
    assert report.published == ["ep2", "ep1", "ep0"]
    assert not [p for p in report.problems if p.severity == "error"]

    parsed = feedparser.parse(str(feed_path))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    channel = parsed.feed
    assert channel.title == "Sample Show"
    assert channel.language == "en"
    assert channel.link == "https://podcasts.example.com/show/"
    # feedparser reports itunes:owner as the author; itunes:author itself is checked below.
    assert channel.publisher_detail == {"name": "Sample Owner", "email": "owner@example.com"}
    assert channel.image.href == "https://podcasts.example.com/show/cover.png"
    assert channel.itunes_type == "episodic"
    assert [t.term for t in channel.tags] == ["Technology", "Science", "Natural Sciences"]
    expected_guid = uuid.uuid5(
        uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "podcasts.example.com/show/feed.xml"
    )
    assert channel.podcast_guid == str(expected_guid)
    assert (config.paths.output / "cover.png").read_bytes() == (
        config.paths.root / "cover.png"
    ).read_bytes()

    assert [e.id for e in parsed.entries] == [
        "urn:acbatch:ep2",
        "urn:acbatch:ep1",
        "urn:acbatch:ep0",
    ]
    by_guid = {e.guid: e for e in episodes}
    for entry in parsed.entries:
        episode = by_guid[entry.id]
        audio = episode.audio_path
        enclosure = entry.enclosures[0]
        assert (
            enclosure.href
            == f"https://podcasts.example.com/show/episodes/{episode.id}/{episode.id}.mp3"
        )
        assert int(enclosure.length) == os.path.getsize(audio)
        assert enclosure.type == "audio/mpeg"
        assert int(entry.itunes_duration) == int(MP3(str(audio)).info.length)
        assert entry.title == episode.title
        assert parsedate_to_datetime(entry.published) == episode.pub_date
        assert entry.itunes_episode == str(episode.publish.episode)
        assert entry.itunes_season == "1"
        assert entry.itunes_episodetype == "full"
        assert entry.image.href == "https://podcasts.example.com/show/cover.png"

    root = ET.parse(feed_path).getroot()
    assert root.findtext(f"channel/{{{ITUNES_NS}}}author") == "Sample Author"
    assert root.findtext(f"channel/{{{ITUNES_NS}}}explicit") == "false"
    locked = root.find(f"channel/{{{PODCAST_NS}}}locked")
    assert locked is not None
    assert (locked.text, locked.get("owner")) == ("yes", "owner@example.com")
    item = root.find("channel/item")
    assert item is not None
    transcripts = {t.get("type"): t.get("url") for t in item.findall(f"{{{PODCAST_NS}}}transcript")}
    base = "https://podcasts.example.com/show/episodes/ep2/"
    assert transcripts == {
        "text/vtt": base + "transcript.vtt",
        "application/x-subrip": base + "transcript.srt",
        "application/json": base + "transcript.json",
    }
    chapters = item.find(f"{{{PODCAST_NS}}}chapters")
    assert chapters is not None
    assert chapters.get("type") == "application/json+chapters"
    assert item.find(f"{{{PODCAST_NS}}}season").text == "1"  # type: ignore[union-attr]
    assert item.find(f"{{{PODCAST_NS}}}episode").text == "3"  # type: ignore[union-attr]


def test_per_episode_files_and_id3_chapters(config: ShowConfig) -> None:
    turns = (
        Turn("A", "Alice", "First words, measured.", start=0.0, end=1.2),
        Turn("B", "Bob", "A longer second line without a known offset at all."),
        Turn("A", "Alice", "Short."),
    )
    highlights = (
        Highlight("Opening", 0, 0),
        Highlight("Reported start", 1, 1, start_time=1.5),
        Highlight("Closing", 2, 2),
    )
    episode = sample_episode(config, "timed", seconds=4.0, turns=turns, highlights=highlights)
    render_show(config, [episode], now=NOW)
    folder = config.paths.output / "episodes" / "timed"
    duration = MP3(str(episode.audio_path)).info.length

    transcript = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
    assert transcript["version"] == "1.0.0"
    segments = transcript["segments"]
    assert [s["speaker"] for s in segments] == ["Alice", "Bob", "Alice"]
    assert segments[0]["startTime"] == 0.0 and segments[0]["endTime"] == 1.2
    assert segments[1]["startTime"] == 1.2
    assert segments[-1]["endTime"] == pytest.approx(duration, abs=0.001)
    for earlier, later in itertools.pairwise(segments):
        assert earlier["endTime"] <= later["startTime"] + 1e-9
    # Apportioned by text length: the long line gets more time than the short one.
    assert (segments[1]["endTime"] - segments[1]["startTime"]) > (
        segments[2]["endTime"] - segments[2]["startTime"]
    )

    vtt = (folder / "transcript.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:00.000 --> 00:00:01.200\n<v Alice>First words, measured.</v>" in vtt
    srt = (folder / "transcript.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,200\nAlice: First words, measured.")

    chapters = json.loads((folder / "chapters.json").read_text(encoding="utf-8"))
    assert chapters["version"] == "1.2.0"
    titles = [c["title"] for c in chapters["chapters"]]
    starts = [c["startTime"] for c in chapters["chapters"]]
    assert titles == ["Opening", "Reported start", "Closing"]
    assert starts[0] == 0 and starts[1] == 1.5
    assert starts[2] == segments[2]["startTime"]

    tags = ID3(str(episode.audio_path))
    toc = tags.getall("CTOC")
    assert len(toc) == 1
    assert toc[0].flags & 1 and toc[0].flags & 2  # top-level and ordered
    assert toc[0].child_element_ids == ["chp0", "chp1", "chp2"]
    for index, chapter in enumerate(chapters["chapters"]):
        chap = tags[f"CHAP:chp{index}"]
        assert chap.start_time == round(chapter["startTime"] * 1000)
        assert chap.sub_frames["TIT2"].text == [chapter["title"]]
    assert tags["CHAP:chp2"].end_time == round(duration * 1000)
    assert tags["TIT2"].text == [episode.title]
    assert tags["TPE1"].text == ["Sample Author"]
    assert tags["TALB"].text == ["Sample Show"]
    assert str(tags["TDRC"].text[0]).startswith("2024-01-01")
    assert tags.getall("COMM")[0].text == [episode.description]
    assert tags.getall("APIC")[0].data == (config.paths.root / "cover.png").read_bytes()
    assert "TRCK" not in tags

    notes = (folder / "notes.md").read_text(encoding="utf-8")
    assert "## Highlights" in notes and "- 0:01 Reported start" in notes
    assert "[Transcript (WebVTT)](<transcript.vtt>)" in notes
    assert "**Bob**" in notes
    html = parse_html(folder / "notes.html")
    assert "Opening" in "".join(html.text)


def test_escaping_is_intact_everywhere(config: ShowConfig) -> None:
    episode = sample_episode(
        config,
        "nasty",
        title=f"Title {NASTY}",
        description=f"Line one {NASTY}\n\nSecond paragraph \x00\x0b\ufffe",
        turns=(Turn("A", f"Host {NASTY}", f"Said {NASTY}"),),
        highlights=(Highlight(f"Chapter {NASTY}", 0, 0),),
    )
    render_show(config, [episode], now=NOW)
    output = config.paths.output

    feed_bytes = (output / "feed.xml").read_bytes()
    assert b"<script>" not in feed_bytes.replace(b"<![CDATA[", b"")  # only inside escaped HTML
    parsed = feedparser.parse(feed_bytes)
    assert parsed.bozo == 0
    entry = parsed.entries[0]
    assert entry.title == f"Title {NASTY}"
    assert NASTY.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in entry.summary
    root = ET.fromstring(feed_bytes)
    item = root.find("channel/item")
    assert item is not None
    assert item.findtext("title") == f"Title {NASTY}"
    description = item.findtext("description") or ""
    assert "Line one &lt;script&gt;" in description and "]]&gt;" in description
    assert "\x00" not in description and "\x0b" not in description

    notes_md = (output / "episodes/nasty/notes.md").read_text(encoding="utf-8")
    assert "<script>" not in notes_md
    assert "&lt;script&gt;" in notes_md and "🎙️ café" in notes_md

    for page in (output / "index.html", output / "episodes/nasty/notes.html"):
        parsed_page = parse_html(page)
        assert "script" not in parsed_page.tags
        assert f"Title {NASTY}" in "".join(parsed_page.text)
    notes_text = "".join(parse_html(output / "episodes/nasty/notes.html").text)
    assert f"Said {NASTY}" in notes_text and f"Chapter {NASTY}" in notes_text

    tags = ID3(str(episode.audio_path))
    assert tags["TIT2"].text == [f"Title {NASTY}"]
    vtt = (output / "episodes/nasty/transcript.vtt").read_text(encoding="utf-8")
    assert "<script>" not in vtt and "&lt;script&gt;" in vtt


def test_rerender_replaces_frames_and_skips_unchanged(config: ShowConfig) -> None:
    episodes = three_episodes(config)
    first = render_show(config, episodes, now=NOW)
    assert first.unchanged == []
    audio = episodes[0].audio_path
    tagged = audio.read_bytes()

    second = render_show(config, episodes, now=NOW)
    assert sorted(second.unchanged) == ["ep0", "ep1", "ep2"]
    assert audio.read_bytes() == tagged
    assert audio not in second.written

    changed = [
        PublishedEpisode(**{**episodes[0].__dict__, "title": "A new title"}),
        *episodes[1:],
    ]
    third = render_show(config, changed, now=NOW)
    assert sorted(third.unchanged) == ["ep1", "ep2"]
    assert audio in third.written
    tags = ID3(str(audio))
    for frame in ("TIT2", "TPE1", "TALB", "TDRC", "COMM", "APIC", "CTOC", "TRCK"):
        assert len(tags.getall(frame)) == 1, frame
    assert len(tags.getall("CHAP")) == 2
    assert tags["TIT2"].text == ["A new title"]
    assert not [p for p in audio.parent.iterdir() if p.name.endswith(".tmp")]
    entry = feedparser.parse(str(config.paths.output / "feed.xml")).entries[-1]
    assert entry.title == "A new title"
    assert int(entry.enclosures[0].length) == os.path.getsize(audio)

    # A fresh download (new file at the same path) is tagged again even with unchanged inputs.
    audio.write_bytes(audio.read_bytes()[:-1024])
    fourth = render_show(config, changed, now=NOW)
    assert "ep0" not in fourth.unchanged
    entry = feedparser.parse(str(config.paths.output / "feed.xml")).entries[-1]
    assert int(entry.enclosures[0].length) == os.path.getsize(audio)


def test_drafts_and_future_episodes_are_left_out(config: ShowConfig) -> None:
    live = sample_episode(config, "live", pub_date=NOW - timedelta(days=1))
    draft = sample_episode(
        config, "draft", pub_date=NOW - timedelta(days=2), publish=build(Publish, draft=True)
    )
    future = sample_episode(config, "future", pub_date=NOW + timedelta(hours=1))
    report = render_show(config, [draft, future, live], now=NOW)
    assert report.published == ["live"]
    assert report.left_out["draft"] == "draft"
    assert report.left_out["future"].startswith("scheduled for")
    assert report.next_scheduled == future.pub_date

    output = config.paths.output
    feed = (output / "feed.xml").read_text(encoding="utf-8")
    site = (output / "index.html").read_text(encoding="utf-8")
    for hidden in ("draft", "future"):
        assert f"episodes/{hidden}/" not in feed
        assert f"episodes/{hidden}/" not in site
        assert not (output / "episodes" / hidden / "notes.html").exists()
    assert "episodes/live/live.mp3" in site

    later = render_show(config, [draft, future, live], now=NOW + timedelta(hours=2))
    assert later.published == ["future", "live"]
    assert later.next_scheduled is None


def test_template_overrides_win_and_rerender_only_what_they_affect(config: ShowConfig) -> None:
    episode = sample_episode(config, "one", title="<b>bold</b>")
    render_show(config, [episode], now=NOW)
    tagged = episode.audio_path.stat().st_mtime_ns

    config.paths.templates.mkdir(parents=True)
    (config.paths.templates / "index.html.j2").write_text(
        "<!DOCTYPE html><title>{{ show.title }}</title>{{ episode_count }} episode(s)\n"
        "{% for article in articles %}{{ article }}{% endfor %}\n",
        encoding="utf-8",
    )
    (config.paths.templates / "index_item.html.j2").write_text(
        "<p class=custom>{{ episode.title }}</p>\n", encoding="utf-8"
    )
    report = render_show(config, [episode], now=NOW)
    site = (config.paths.output / "index.html").read_text(encoding="utf-8")
    assert site.startswith("<!DOCTYPE html><title>Sample Show</title>1 episode(s)")
    assert "<p class=custom>&lt;b&gt;bold&lt;/b&gt;</p>" in site
    # Templates not overridden stay built-in; the MP3 is not tagged again for a template change.
    assert "<rss" in (config.paths.output / "feed.xml").read_text(encoding="utf-8")
    assert episode.audio_path.stat().st_mtime_ns == tagged
    assert episode.audio_path not in report.written
    assert config.paths.output / "episodes/one/notes.html" not in report.written

    (config.paths.templates / "notes.md.j2").write_text("# {{ episode.title }}\n", "utf-8")
    report = render_show(config, [episode], now=NOW)
    notes = (config.paths.output / "episodes/one/notes.md").read_text(encoding="utf-8")
    assert notes == "# &lt;b&gt;bold&lt;/b&gt;\n"
    assert config.paths.output / "episodes/one/notes.md" in report.written
    assert episode.audio_path.stat().st_mtime_ns == tagged


def test_broken_override_names_file_and_line(config: ShowConfig) -> None:
    config.paths.templates.mkdir(parents=True)
    (config.paths.templates / "notes.md.j2").write_text("# ok\n{{ episode.title\n", "utf-8")
    with pytest.raises(TemplateError, match=r"notes\.md\.j2:\d"):
        render_show(config, [sample_episode(config, "one")], now=NOW)
    (config.paths.templates / "notes.md.j2").write_text("# ok\n\n{{ episode.nope }}\n", "utf-8")
    with pytest.raises(TemplateError, match=r"notes\.md\.j2:3: .*nope"):
        render_show(config, [sample_episode(config, "one")], now=NOW)


def test_feed_errors_raise_with_every_problem_and_keep_old_feed(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show", image=None)
    with pytest.raises(FeedCheckError) as caught:
        render_show(config, [sample_episode(config, "one")], now=NOW)
    assert isinstance(caught.value, UserError)
    assert any(p.where == "channel/itunes:image" for p in caught.value.problems)
    assert "itunes:image" in caught.value.message
    assert "to fix: set show.image" in caught.value.message
    assert str(config.paths.config) in caught.value.message
    assert not (config.paths.output / "feed.xml").exists()


def test_show_settings_are_checked(tmp_path: Path) -> None:
    config = sample_config(
        tmp_path / "show", categories=("Technolgy", "Science/Cooking"), guid="not-a-uuid"
    )
    with pytest.raises(ShowSettingsError) as caught:
        render_show(config, [], now=NOW)
    message = caught.value.message
    assert "show.categories[0]" in message and "did you mean 'Technology'" in message
    assert "show.categories[1]" in message
    assert "show.guid" in message
    assert str(config.paths.config) in message


def test_explicit_show_guid_and_remote_image(tmp_path: Path) -> None:
    fixed = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.org/feed"))
    config = sample_config(
        tmp_path / "show", image="https://cdn.example.org/art.jpg", guid=fixed, locked=False
    )
    render_show(config, [sample_episode(config, "one")], now=NOW)
    parsed = feedparser.parse(str(config.paths.output / "feed.xml"))
    assert parsed.feed.podcast_guid == fixed
    locked = ET.parse(config.paths.output / "feed.xml").find(f"channel/{{{PODCAST_NS}}}locked")
    assert locked is not None and locked.text == "no"
    assert parsed.feed.image.href == "https://cdn.example.org/art.jpg"
    assert "APIC" not in ID3(str(config.paths.output / "episodes/one/one.mp3"))
    assert "cdn.example.org" not in (config.paths.output / "index.html").read_text("utf-8")


def test_audio_outside_output_is_refused(config: ShowConfig, tmp_path: Path) -> None:
    episode = sample_episode(config, "one")
    outside = tmp_path / "elsewhere.mp3"
    outside.write_bytes(episode.audio_path.read_bytes())
    moved = PublishedEpisode(**{**episode.__dict__, "audio_path": outside})
    with pytest.raises(AudioFileError, match="must be inside the output folder"):
        render_show(config, [moved], now=NOW)
    missing = PublishedEpisode(
        **{**episode.__dict__, "audio_path": config.paths.output / "episodes/one/gone.mp3"}
    )
    with pytest.raises(AudioFileError, match="missing"):
        render_show(config, [missing], now=NOW)


def test_episode_settings_flow_into_the_feed(config: ShowConfig) -> None:
    art = config.paths.output / "art" / "ep.png"
    art.parent.mkdir(parents=True)
    art.write_bytes((config.paths.root / "cover.png").read_bytes())
    episode = sample_episode(
        config,
        "bonus ep",
        publish=build(
            Publish,
            episode_type="bonus",
            explicit=True,
            image="art/ep.png",
            link="https://example.org/ep",
            keywords=("a", "b"),
        ),
    )
    render_show(config, [episode], now=NOW)
    entry = feedparser.parse(str(config.paths.output / "feed.xml")).entries[0]
    assert entry.itunes_episodetype == "bonus"
    item = ET.parse(config.paths.output / "feed.xml").find("channel/item")
    assert item is not None and item.findtext(f"{{{ITUNES_NS}}}explicit") == "true"
    assert entry.image.href == "https://podcasts.example.com/show/art/ep.png"
    assert entry.link == "https://example.org/ep"
    assert entry.enclosures[0].href.endswith("/episodes/bonus%20ep/bonus%20ep.mp3")
    assert "itunes_episode" not in entry
    site = (config.paths.output / "index.html").read_text(encoding="utf-8")
    assert 'src="episodes/bonus%20ep/bonus%20ep.mp3"' in site


def test_feed_check_findings_stay_complete_across_renders(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show", owner=None)
    first, second = three_episodes(config)[:2]
    report = render_show(config, [first, second], now=NOW)
    expected = [(p.severity, p.where) for p in report.problems]
    assert ("warning", "channel/itunes:owner") in expected
    again = render_show(config, [first, second], now=NOW)
    assert [(p.severity, p.where) for p in again.problems] == expected

    no_guid = PublishedEpisode(**{**sample_episode(config, "noguid").__dict__, "guid": " "})
    with pytest.raises(FeedCheckError) as caught:
        render_show(config, [first, second, no_guid], now=NOW)
    found = [(p.where, p.message, p.item_title) for p in caught.value.problems]
    assert ("item/guid", "missing", "Episode noguid") in found

    twin = PublishedEpisode(**{**sample_episode(config, "twin").__dict__, "guid": first.guid})
    with pytest.raises(FeedCheckError) as caught:
        render_show(config, [first, second, twin], now=NOW)
    duplicates = [p for p in caught.value.problems if p.message.startswith("not unique")]
    assert [(p.item_title, p.item_guid) for p in duplicates] == [("Episode twin", first.guid)]
    assert "Episode twin" in caught.value.message

    # The whole feed, checked from scratch, agrees with what render reported.
    report = render_show(config, [first, second], now=NOW)
    from acbatch.publish.feedcheck import check_feed_file

    full = check_feed_file(config.paths.output / "feed.xml")
    assert [(p.severity, p.where, p.message) for p in full] == [
        (p.severity, p.where, p.message) for p in report.problems
    ]


@settings(max_examples=12, deadline=None)
@given(title=st.text(min_size=1, max_size=60), description=st.text(max_size=200))
def test_any_text_gives_a_well_formed_feed(title: str, description: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = sample_config(Path(folder) / "show")
        episode = sample_episode(
            config, "any", seconds=0.5, title=title, description=description, highlights=()
        )
        render_show(config, [episode], now=NOW)
        feed_bytes = (config.paths.output / "feed.xml").read_bytes()
    assert feedparser.parse(feed_bytes).bozo == 0
    # The XML itself, not feedparser (which "repairs" text that looks double-encoded).
    assert ET.fromstring(feed_bytes).findtext("channel/item/title") == (
        " ".join(xml_safe(title).split()) or "any"
    )


def test_tagging_failure_leaves_the_mp3_untouched(config: ShowConfig) -> None:
    episode = sample_episode(config, "fragile")
    original = episode.audio_path.read_bytes()
    impossible = Chapter("Too late", 5e9, 6e9)  # milliseconds overflow CHAP's 32-bit fields
    tags = id3.EpisodeTags(
        title="t",
        artist="a",
        album="b",
        date=NOW,
        comment="c",
        language="en",
        chapters=(impossible,),
    )
    with pytest.raises(ValueError, match="too wide"):
        id3.write_tags(episode.audio_path, tags)
    assert episode.audio_path.read_bytes() == original
    assert sorted(p.name for p in episode.audio_path.parent.iterdir()) == ["fragile.mp3"]
    with pytest.raises(AudioFileError, match="missing"):
        id3.write_tags(episode.audio_path.with_name("absent.mp3"), tags)
