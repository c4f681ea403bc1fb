"""`acbatch feed check` and acbatch.publish.feedcheck on hand-written good and broken feeds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from acbatch.cli import cli
from acbatch.publish.feedcheck import (
    FeedProblem,
    check_feed,
    check_feed_chunks,
    check_feed_file,
)
from acbatch.publish.render import render_show
from tests.samples import sample_config, sample_episode

GOOD_CHANNEL = """\
<title>Hand Made</title>
<link>https://example.com/</link>
<description>A hand-written feed.</description>
<language>en-US</language>
<atom:link href="https://example.com/pod/feed.xml" rel="self" type="application/rss+xml"/>
<itunes:author>Someone</itunes:author>
<itunes:owner><itunes:name>Someone</itunes:name><itunes:email>me@example.com</itunes:email></itunes:owner>
<itunes:image href="https://example.com/art.png"/>
<itunes:category text="Science"><itunes:category text="Natural Sciences"/></itunes:category>
<itunes:explicit>false</itunes:explicit>
<itunes:type>episodic</itunes:type>
<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>
<podcast:locked owner="me@example.com">yes</podcast:locked>
"""

GOOD_ITEM = """\
<item>
<title>{title}</title>
<description>Words.</description>
<enclosure url="https://example.com/pod/{guid}.mp3" length="1234" type="audio/mpeg"/>
<guid isPermaLink="false">{guid}</guid>
<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>
<itunes:duration>61</itunes:duration>
<itunes:episodeType>full</itunes:episodeType>
<podcast:transcript url="https://example.com/pod/{guid}.vtt" type="text/vtt"/>
<podcast:chapters url="https://example.com/pod/{guid}.json" type="application/json+chapters"/>
</item>
"""


def feed(channel: str = GOOD_CHANNEL, items: str | None = None) -> bytes:
    if items is None:
        items = GOOD_ITEM.format(title="One", guid="g1") + GOOD_ITEM.format(title="Two", guid="g2")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">\n'
        f"<channel>\n{channel}{items}</channel>\n</rss>\n"
    ).encode()


def errors_of(problems: list[FeedProblem]) -> list[str]:
    return [f"{p.where}: {p.message}" for p in problems if p.severity == "error"]


def errors_of_items(problems: list[FeedProblem]) -> list[FeedProblem]:
    return [p for p in problems if p.severity == "error" and p.in_item]


def test_hand_written_good_feed_passes_cleanly() -> None:
    assert check_feed(feed()) == []


@pytest.mark.parametrize(
    ("channel_change", "expected"),
    [
        (("<title>Hand Made</title>", ""), "channel/title: missing"),
        (("A hand-written feed.", "x" * 4001), "channel/description: 4001 bytes"),
        (("A hand-written feed.", "é" * 2001), "channel/description: 4002 bytes"),
        (('<itunes:image href="https://example.com/art.png"/>', ""), "channel/itunes:image"),
        (('href="https://example.com/art.png"', 'href="art.png"'), "not an http(s) URL"),
        (("<language>en-US</language>", ""), "channel/language: missing"),
        (('text="Natural Sciences"', 'text="Cooking"'), "'Cooking' is not a subcategory"),
        (('text="Science"', 'text="Sciense"'), "'Sciense' is not an Apple Podcasts category"),
        (("<itunes:explicit>false</itunes:explicit>", ""), "channel/itunes:explicit: missing"),
        (
            (
                "<itunes:explicit>false</itunes:explicit>",
                "<itunes:explicit>maybe</itunes:explicit>",
            ),
            "'maybe' is not true or false",
        ),
        (("917393e3-1b1e-5cef-ace4-edaa54e1f810", "not-a-uuid"), "is not a UUID"),
        (
            ("917393e3-1b1e-5cef-ace4-edaa54e1f810", "917393e3-1b1e-4cef-ace4-edaa54e1f810"),
            "must be a UUIDv5",
        ),
        ((">yes</podcast:locked>", ">locked</podcast:locked>"), "'locked' is not yes or no"),
        (
            ("<itunes:type>episodic</itunes:type>", "<itunes:type>daily</itunes:type>"),
            "'daily' is not episodic or serial",
        ),
    ],
)
def test_channel_errors_are_reported(channel_change: tuple[str, str], expected: str) -> None:
    old, new = channel_change
    assert old in GOOD_CHANNEL
    problems = check_feed(feed(GOOD_CHANNEL.replace(old, new)))
    assert any(expected in line for line in errors_of(problems)), problems


@pytest.mark.parametrize(
    ("item_change", "expected"),
    [
        (("<title>{title}</title>", ""), "item/title: missing"),
        (('length="1234" ', ""), "length is missing"),
        (('length="1234"', 'length="12kb"'), "not a positive number of bytes"),
        ((' type="audio/mpeg"', ""), "type is missing"),
        (('url="https://example.com/pod/{guid}.mp3" ', ""), "url is missing"),
        (
            (
                '<enclosure url="https://example.com/pod/{guid}.mp3" length="1234" '
                'type="audio/mpeg"/>',
                "",
            ),
            "item/enclosure: missing",
        ),
        (('<guid isPermaLink="false">{guid}</guid>', ""), "item/guid: missing"),
        (("Mon, 01 Jan 2024 09:00:00 +0000", "2024-01-01T09:00:00Z"), "not an RFC 2822 date"),
        (("Mon, 01 Jan 2024 09:00:00 +0000", "Mon, 01 Jan 2024 09:00:00"), "has no time zone"),
        (("<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>", ""), "item/pubDate: missing"),
        ((' type="text/vtt"', ""), "item/podcast:transcript: type is missing"),
        (
            ('<podcast:chapters url="https://example.com/pod/{guid}.json"', "<podcast:chapters"),
            "item/podcast:chapters: url is missing",
        ),
        (
            ("<itunes:duration>61</itunes:duration>", "<itunes:duration>1 min</itunes:duration>"),
            "not seconds or H:MM:SS",
        ),
        (
            (
                "<itunes:episodeType>full</itunes:episodeType>",
                "<itunes:episodeType>teaser</itunes:episodeType>",
            ),
            "'teaser' is not valid",
        ),
    ],
)
def test_item_errors_name_the_item(item_change: tuple[str, str], expected: str) -> None:
    old, new = item_change
    assert old in GOOD_ITEM
    broken = GOOD_ITEM.replace(old, new).format(title="Broken", guid="gb")
    problems = check_feed(feed(items=GOOD_ITEM.format(title="Fine", guid="g1") + broken))
    matching = [p for p in errors_of_items(problems) if expected in f"{p.where}: {p.message}"]
    assert matching, problems
    assert all(p.item_title in ("Broken", "#2") for p in matching)
    assert all(p.item_guid in ("gb", None) for p in matching)


def test_duplicate_guids_are_errors() -> None:
    items = GOOD_ITEM.format(title="A", guid="same") + GOOD_ITEM.format(title="B", guid="same")
    problems = check_feed(feed(items=items))
    assert errors_of(problems) == ["item/guid: not unique (also item #1)"]
    assert problems[0].item_title == "B"


def test_recommendations_are_warnings() -> None:
    channel = GOOD_CHANNEL.replace(
        "<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>", ""
    )
    channel = channel.replace(
        "<itunes:owner><itunes:name>Someone</itunes:name><itunes:email>me@example.com"
        "</itunes:email></itunes:owner>",
        "",
    )
    problems = check_feed(feed(channel, items=""))
    assert errors_of(problems) == []
    warnings = {p.where for p in problems if p.severity == "warning"}
    assert warnings == {"channel/podcast:guid", "channel/itunes:owner", "channel/item"}


def test_documents_that_are_not_feeds() -> None:
    assert "not well-formed" in str(check_feed(b"<rss><channel></rss>")[0])
    assert "<feed>" in str(check_feed(b"<feed/>")[0])
    assert "channel: missing" in str(check_feed(b'<rss version="2.0"/>')[0])


def test_entity_expansion_is_refused_quickly() -> None:
    laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
            for i in range(1, 10)
        )
        + b"]>\n<rss><channel><title>&lol9;</title></channel></rss>"
    )
    started = time.monotonic()
    problems = check_feed(laughs)
    assert time.monotonic() - started < 1.0
    assert len(problems) == 1 and "DOCTYPE declarations are not allowed" in str(problems[0])
    external = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><rss/>'
    assert "DOCTYPE" in str(check_feed(external)[0])


def test_rendered_feed_passes_and_local_enclosures_are_measured(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show")
    episode = sample_episode(config, "one")
    render_show(config, [episode], now=datetime(2024, 6, 1, tzinfo=timezone.utc))
    feed_path = config.paths.output / "feed.xml"
    assert check_feed_file(feed_path) == []

    with episode.audio_path.open("ab") as audio:
        audio.write(b"\0" * 10)
    problems = check_feed_file(feed_path)
    assert len(errors_of(problems)) == 1
    assert "but the file has" in errors_of(problems)[0]
    episode.audio_path.unlink()
    assert "does not exist" in errors_of(check_feed_file(feed_path))[0]


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(feed())
    bad = tmp_path / "bad.xml"
    bad.write_bytes(feed(GOOD_CHANNEL.replace("<title>Hand Made</title>", "")))
    runner = CliRunner()

    result = runner.invoke(cli, ["feed", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "OK: 0 errors, 0 warnings" in result.output

    result = runner.invoke(cli, ["feed", "check", str(bad)])
    assert result.exit_code == 1
    assert "error: channel/title: missing or empty" in result.output
    assert "FAILED: 1 error, 0 warnings" in result.output

    result = runner.invoke(cli, ["feed", "check", "--json", str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["errors"] == 1
    assert report["problems"][0] == {
        "severity": "error",
        "where": "channel/title",
        "message": "missing or empty",
        "item_title": None,
        "item_guid": None,
        "item_position": None,
    }

    # Next to its files (--files), the enclosures must exist with their exact lengths.
    result = runner.invoke(cli, ["feed", "check", "--files", str(good)])
    assert result.exit_code == 1
    assert f"the file {tmp_path / 'g1.mp3'} does not exist" in result.output
    (tmp_path / "g1.mp3").write_bytes(b"x" * 1234)
    (tmp_path / "g2.mp3").write_bytes(b"x" * 1234)
    assert runner.invoke(cli, ["feed", "check", "--files", str(good)]).exit_code == 0

    result = runner.invoke(cli, ["feed", "check", str(tmp_path / "missing.xml")])
    assert result.exit_code == 1
    assert "no such feed file" in result.output


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "good.xml").write_bytes(feed())
    (tmp_path / "bad.xml").write_bytes(feed(items=GOOD_ITEM.format(title="", guid="g")))
    handler = partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_cli_checks_a_url(served: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["feed", "check", f"{served}/good.xml"]).exit_code == 0
    result = runner.invoke(cli, ["feed", "check", f"{served}/bad.xml"])
    assert result.exit_code == 1 and 'item/title (item "#1", guid g): missing' in result.output
    result = runner.invoke(cli, ["feed", "check", f"{served}/absent.xml"])
    assert result.exit_code == 1 and "HTTP 404" in result.output


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
def test_any_chunking_gives_the_same_findings(size: int) -> None:
    items = (
        GOOD_ITEM.format(title="A", guid="same")
        + GOOD_ITEM.format(title="", guid="same").replace("61", "1 min")
        + GOOD_ITEM.format(title="C", guid="c").replace('length="1234"', 'length="²"')
    )
    document = feed(GOOD_CHANNEL.replace("<itunes:type>episodic", "<itunes:type>daily"), items)
    whole = check_feed(document)
    assert len(errors_of(whole)) == 5, whole
    chunks = [document[i : i + size] for i in range(0, len(document), size)]
    assert check_feed_chunks(chunks) == whole


def test_doctype_is_refused_across_chunk_boundaries() -> None:
    document = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "b">]>\n<rss>&a;</rss>'
    for size in (1, 5, 30):
        chunks = [document[i : i + size] for i in range(0, len(document), size)]
        problems = check_feed_chunks(chunks)
        assert [p.where for p in problems] == ["document"]
        assert "DOCTYPE declarations are not allowed" in problems[0].message


def test_unreadable_documents_are_findings_not_crashes() -> None:
    unknown = b'<?xml version="1.0" encoding="no-such-encoding"?><rss/>'
    assert [(p.where, p.severity) for p in check_feed(unknown)] == [("document", "error")]
    assert [(p.where, p.severity) for p in check_feed(b"")] == [("document", "error")]


def test_enclosures_are_measured_when_the_self_link_comes_last(tmp_path: Path) -> None:
    self_link = next(line for line in GOOD_CHANNEL.splitlines(True) if "<atom:link" in line)
    channel = GOOD_CHANNEL.replace(self_link, "")
    items = GOOD_ITEM.format(title="One", guid="g1") + self_link
    (tmp_path / "g1.mp3").write_bytes(b"x" * 1000)
    path = tmp_path / "feed.xml"
    path.write_bytes(feed(channel, items))
    assert errors_of(check_feed_file(path)) == [
        "item/enclosure: length 1234 but the file has 1000 bytes"
    ]


def test_problems_read_as_one_line_each() -> None:
    channel = FeedProblem("warning", "channel/itunes:owner", "missing owner email")
    item = FeedProblem("error", "item/guid", "missing", "A title", None, 3)
    assert str(channel) == "warning: channel/itunes:owner: missing owner email"
    assert str(item) == 'error: item/guid (item "A title", guid -): missing'
