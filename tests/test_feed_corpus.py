"""`acbatch feed check` on a corpus of broken feeds, each with the W3C validator's verdict.

tests/feeds/corpus.yaml lists the faults; each broken/<name>.xml is good.xml with exactly that
one change. feed check must flag every one of them as an error at the faulty element, so it
passes no feed the W3C validator rejects, and catches faults W3C lets through.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from acbatch.cli import cli
from acbatch.publish.feedcheck import RemoteArtwork
from acbatch.publish.render import render_show
from tests.samples import sample_config, sample_episode

FEEDS = Path(__file__).parent / "feeds"
CORPUS: dict[str, Any] = yaml.safe_load((FEEDS / "corpus.yaml").read_text(encoding="utf-8"))
FAULTS: dict[str, dict[str, Any]] = CORPUS["faults"]


def feed_check(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["feed", "check", *args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_the_corpus_is_large_and_each_feed_has_exactly_its_one_fault() -> None:
    assert len(FAULTS) >= 30
    good = (FEEDS / "good.xml").read_text(encoding="utf-8")
    on_disk = {path.stem for path in (FEEDS / "broken").glob("*.xml")}
    assert on_disk == set(FAULTS)
    for name, fault in FAULTS.items():
        assert good.count(fault["find"]) == 1, name
        broken = (FEEDS / "broken" / f"{name}.xml").read_text(encoding="utf-8")
        assert broken == good.replace(fault["find"], fault["replace"]), name


def test_the_good_feed_passes_w3c_and_feed_check() -> None:
    assert CORPUS["good"]["w3c"] == {"errors": [], "warnings": []}
    code, report = feed_check(str(FEEDS / "good.xml"))
    assert code == 0, report
    assert report["problems"] == []


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_feed_check_flags_the_fault(name: str) -> None:
    fault = FAULTS[name]
    code, report = feed_check(str(FEEDS / "broken" / f"{name}.xml"))
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert code == 1, f"{name} ({fault['fault']}) passed; W3C says {fault['w3c']}"
    assert [p["where"] for p in errors] == [fault["acbatch"]], errors


def test_feed_check_is_stricter_than_w3c() -> None:
    rejected_by_w3c = {name for name, fault in FAULTS.items() if fault["w3c"]["errors"]}
    # Every feed W3C rejects is a feed feed check rejects (test_feed_check_flags_the_fault);
    # and these faults, which W3C lets through, are caught as well.
    missed_by_w3c = set(FAULTS) - rejected_by_w3c
    assert len(rejected_by_w3c) >= 15
    assert {
        "chapters-type-json",
        "show-artwork-gif",
        "item-artwork-svg",
        "item-title-html",
        "channel-title-html",
        "language-unknown-code",
        "self-link-localhost",
        "show-artwork-private-ip",
        "transcript-loopback",
    } <= missed_by_w3c


def test_sandbox_feed_check_only_warns_about_local_addresses() -> None:
    code, report = feed_check(str(FEEDS / "broken" / "enclosure-localhost.xml"), "--sandbox")
    assert code == 0
    (problem,) = report["problems"]
    assert problem["severity"] == "warning" and "is not public (localhost)" in problem["message"]


def png(size: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    colour: Any = (200, 40, 40) if mode == "RGB" else 128
    Image.new(mode, (size, size), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("artwork", "expected"),
    [
        (png(200), "is 200x200 px; Apple requires 1400 to 3000 px a side"),
        (png(1400, "L"), "is greyscale; Apple requires the RGB colour space"),
    ],
)
def test_feed_check_reads_the_artwork_beside_the_feed(
    tmp_path: Path, artwork: bytes, expected: str
) -> None:
    config = sample_config(tmp_path / "show")
    render_show(
        config,
        [sample_episode(config, "one")],
        now=datetime(2024, 6, 1, tzinfo=timezone.utc),
    )
    feed = config.paths.output / "feed.xml"
    assert feed_check(str(feed))[0] == 0
    (config.paths.output / "cover.png").write_bytes(artwork)
    code, report = feed_check(str(feed))
    assert code == 1
    messages = [p["message"] for p in report["problems"] if p["where"] == "channel/itunes:image"]
    assert messages == [f"'https://podcasts.example.com/show/cover.png' {expected}"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_folder() -> Iterator[Callable[[Path], str]]:
    """Serves a folder over loopback HTTP; gives its base URL."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def serve(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=folder))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_feed_check_fetches_artwork_for_a_feed_url(
    tmp_path: Path, served_folder: Callable[[Path], str]
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    url = served_folder(folder)
    good = (FEEDS / "good.xml").read_text(encoding="utf-8")
    feed = good.replace("https://podcasts.example.com/show/cover.png", f"{url}cover.png")
    (folder / "feed.xml").write_text(feed, encoding="utf-8")
    (folder / "cover.png").write_bytes(png(200))
    code, report = feed_check(f"{url}feed.xml", "--sandbox")
    assert code == 1
    found = [p for p in report["problems"] if "200x200" in p["message"]]
    assert [p["where"] for p in found] == ["channel/itunes:image"]


def test_a_public_feed_cannot_make_feed_check_fetch_from_private_addresses(
    tmp_path: Path, served_folder: Callable[[Path], str]
) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "cover.png").write_bytes(png(200))
    private_url = served_folder(folder) + "cover.png"
    public_feed = RemoteArtwork("https://podcasts.example.com/show/feed.xml")
    assert public_feed(private_url, None) is None  # not fetched: nothing to report
    local_feed = RemoteArtwork(private_url.replace("cover.png", "feed.xml"))
    assert local_feed(private_url, None) == png(200)


def test_a_localhost_feed_is_one_error_naming_its_own_url(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show", base_url="http://localhost:8000/")
    episodes = [sample_episode(config, "one"), sample_episode(config, "two")]
    render_show(config, episodes, now=datetime(2024, 6, 1, tzinfo=timezone.utc))
    code, report = feed_check(str(config.paths.output / "feed.xml"))
    assert code == 1
    (problem,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert problem["where"] == "channel/atom:link"
    assert problem["message"].startswith(
        "'http://localhost:8000/feed.xml' is not public (localhost); directories and apps "
        "cannot fetch it (nor "
    )
    assert problem["message"].endswith(" more URLs on localhost:8000)")
