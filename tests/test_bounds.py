"""Every request is bounded: in time from connecting to the last byte, and in memory whatever the
server sends. Limits are set small here so that each case is measured in seconds; times are
wall-clock, memory is the peak RSS of a child process doing the work (measured, not assumed)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes
from acbatch.api import errors
from acbatch.api.client import PodcastClient
from acbatch.errors import UserError
from acbatch.publish.feedcheck import fetch_feed
from acbatch.runner.download import DownloadError, download_audio
from tests.double import tone_mp3
from tests.hostile import HostileServer, Reply, Seen

KEY = "sk-bounds-5150"
SCRIPT_BODY = {"source_type": 1, "text": "hello", "speakers": [1], "style": 1, "duration": 1}
# Slack the bars allow on top of a documented limit.
SLACK = 5.0


def trickle(first: bytes = b'{"code": 100000, "data": {', every: float = 0.5) -> Any:
    """A body that starts like a real answer and then sends one byte every `every` seconds."""

    def pieces() -> Iterator[bytes]:
        yield first
        while True:
            time.sleep(every)
            yield b" "

    return pieces


def endless_json() -> Iterator[bytes]:
    yield b'{"code": 100000, "data": {"status": "success", "title": "'
    chunk = b"a" * 65536
    while True:
        yield chunk


def gzip_bomb() -> Iterator[bytes]:
    """An endless gzip stream of zeros: about 1 MB on the wire decodes to 1 GB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    yield compressor.compress(b'{"code": 100000, "data": {"status": "success", "title": "')
    zeros = b"0" * (1 << 20)
    while True:
        piece = compressor.compress(zeros)
        if piece:
            yield piece


def huge_field(megabytes: int = 100) -> Any:
    def pieces() -> Iterator[bytes]:
        yield b'{"code": 100000, "data": {"status": "success", "global_id": "gid", '
        yield b'"title": "t", "podcast_script": [], "hightlights": [], "processed_content": "'
        chunk = b"x" * (1 << 20)
        for _ in range(megabytes):
            yield chunk
        yield b'"}}'

    return pieces


def served(reply: Reply) -> HostileServer:
    return HostileServer(lambda seen: reply)


# -- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["status", "create"])
def test_a_trickling_answer_is_cut_off_at_the_wall_clock_limit(step: str) -> None:
    limit = 1.0 + 1.5  # connect + read
    with served(Reply(stream=trickle())) as server:
        client = PodcastClient(KEY, server.url, connect_timeout=1.0, read_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(errors.ResponseLost) as caught:
            if step == "status":
                client.get_script("gid")
            else:
                client.create_script(SCRIPT_BODY)
        elapsed = time.monotonic() - started
    assert elapsed < limit + SLACK
    assert "limit" in str(caught.value)
    # A create's outcome is unknown (the body left); the runner keeps it resumable.
    assert caught.value.processed is None


def test_a_trickling_download_is_cut_off_and_leaves_nothing(tmp_path: Path) -> None:
    def answer(seen: Seen) -> Reply:
        return Reply(
            content_type="audio/mpeg", stream=trickle(first=tone_mp3(0.2)[:512], every=0.5)
        )

    destination = tmp_path / "episodes" / "ep-1" / "ep-1.mp3"
    with HostileServer(answer) as server:
        PodcastClient(KEY, server.url)  # the API lives on loopback, like the sandbox
        started = time.monotonic()
        with pytest.raises(DownloadError) as caught:
            download_audio(
                f"{server.url}/a.mp3",
                destination,
                max_bytes=10 << 20,
                timeout=(1.0, 1.0),
                deadline_seconds=2.0,
            )
        elapsed = time.monotonic() - started
    assert elapsed < 2.0 + SLACK
    assert "2s limit" in str(caught.value)
    assert not caught.value.retryable  # ends the attempt now; the next run tries again
    assert not destination.exists()
    assert not list(destination.parent.glob(".*.part"))


def test_feed_check_fetch_is_bounded_in_time_and_size() -> None:
    with served(Reply(content_type="application/rss+xml", stream=trickle(b"<rss>"))) as server:
        started = time.monotonic()
        with pytest.raises(UserError, match="limit"):
            fetch_feed(server.url + "/feed.xml", timeout=1.5)
        assert time.monotonic() - started < 1.5 + SLACK
    bomb = Reply(content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    bomb.stream = gzip_bomb
    with served(bomb) as server, pytest.raises(UserError, match="larger than"):
        fetch_feed(server.url + "/feed.xml", max_bytes=1 << 20)


# -- memory -------------------------------------------------------------------------------------

_CHILD = """
import sys
from acbatch.api import errors
from acbatch.api.client import PodcastClient

client = PodcastClient("sk-child-5150", sys.argv[1], connect_timeout=2, read_timeout=20)
try:
    client.get_script("gid")
except errors.ApiError as exc:
    print(type(exc).__name__, exc)
"""


# The measured process is started by this small launcher, not by the test process: a child
# forked from a large parent counts the parent's pages in its peak RSS until it execs.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_measured(args: list[str], timeout: float = 120) -> tuple[int, str, float, int]:
    """(exit code, output, seconds, peak RSS in MB) of a child process."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "usage"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
        elapsed = time.monotonic() - started
        code, peak_kb = (int(part) for part in report.read_text().split())
    assert done.returncode == 0
    return code, done.stdout.decode("utf-8", "replace"), elapsed, peak_kb // 1024


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(stream=endless_json), "limit"),
        (Reply(headers={"Content-Encoding": "gzip"}, stream=gzip_bomb), "limit"),
        (Reply(stream=huge_field(100)), "limit"),
    ],
    ids=["endless-json", "gzip-bomb", "100MB-field"],
)
def test_hostile_bodies_cost_bounded_memory(reply: Reply, expected: str) -> None:
    with served(reply) as server:
        code, output, elapsed, peak_mb = run_measured([sys.executable, "-c", _CHILD, server.url])
    assert code == 0, output
    assert "InvalidResponse" in output and expected in output, output
    assert "Traceback" not in output
    assert peak_mb < 300, f"peak RSS {peak_mb} MB"
    assert elapsed < 20 + SLACK


def test_a_field_over_the_stored_string_limit_fails_clearly() -> None:
    data = {
        "status": "success",
        "global_id": "gid",
        "title": "t",
        "podcast_script": [{"role": "A", "text": "x" * 5000}],
        "hightlights": [],
        "processed_content": "p",
    }
    with served(Reply(body={"code": codes.SUCCESS, "data": data})) as server:
        client = PodcastClient(KEY, server.url, max_field_chars=1000)
        with pytest.raises(errors.InvalidResponse) as caught:
            client.get_script("gid")
    assert "podcast_script[0].text" in str(caught.value)
    assert "1000-character limit" in str(caught.value)
    assert caught.value.processed is True  # a read: the episode fails, nothing is resent


def test_a_small_answer_limit_is_enforced_before_parsing() -> None:
    body = {"code": codes.SUCCESS, "data": {"global_id": "g" * 40, "pad": "x" * 4096}}
    with served(Reply(body=body)) as server:
        client = PodcastClient(KEY, server.url, max_answer_bytes=2048)
        with pytest.raises(errors.InvalidResponse, match="2048-byte limit"):
            client.create_script(SCRIPT_BODY)


# -- where downloads may go ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/",
        "http://10.0.0.1/a.mp3",
        "http://192.168.1.1/a.mp3",
    ],
)
def test_downloads_refuse_metadata_and_private_addresses(tmp_path: Path, url: str) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError, match="refusing") as caught:
        download_audio(
            url, tmp_path / "a.mp3", max_bytes=1 << 20, timeout=(1.0, 1.0), deadline_seconds=5.0
        )
    assert time.monotonic() - started < 1.0  # refused before any connection
    assert "address" in str(caught.value)


def test_a_redirect_to_the_metadata_address_is_refused(tmp_path: Path) -> None:
    def answer(seen: Seen) -> Reply:
        return Reply(status=302, headers={"Location": "http://169.254.169.254/latest/"})

    with HostileServer(answer) as server:
        PodcastClient(KEY, server.url)  # loopback is the API's own kind of address
        with pytest.raises(DownloadError, match=r"169\.254\.169\.254 is a link-local address"):
            download_audio(
                f"{server.url}/a.mp3",
                tmp_path / "a.mp3",
                max_bytes=1 << 20,
                timeout=(1.0, 1.0),
                deadline_seconds=5.0,
            )
    assert [seen.path for seen in server.seen] == ["/a.mp3"]


_LOOPBACK_CHILD = """
import sys
from pathlib import Path
from acbatch.runner.download import DownloadError, download_audio

try:
    download_audio(
        sys.argv[1], Path(sys.argv[2]), max_bytes=1 << 20, timeout=(1.0, 1.0), deadline_seconds=5.0
    )
except DownloadError as exc:
    print("refused:", exc)
"""


def test_loopback_is_refused_when_the_api_is_not_on_loopback(tmp_path: Path) -> None:
    # A fresh process that never talked to a loopback API: another local service is off limits.
    with HostileServer(lambda seen: Reply(body=tone_mp3(0.2), content_type="audio/mpeg")) as server:
        done = subprocess.run(
            [sys.executable, "-c", _LOOPBACK_CHILD, f"{server.url}/a.mp3", str(tmp_path / "a")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "refused:" in done.stdout and "loopback address" in done.stdout, done.stderr
    assert server.seen == []


def test_feed_check_takes_its_fetch_limit_from_acbatch_yaml(tmp_path: Path) -> None:
    from tests.conftest import text_episode, write_show

    write_show(tmp_path, {"ep-1": text_episode(1)}, api={"jobs": 1, "timeouts": {"feed_check": 1}})
    with served(Reply(content_type="application/rss+xml", stream=trickle(b"<rss>"))) as server:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "acbatch", "feed", "check", server.url + "/feed.xml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "1s" in result.stderr or "1 s" in result.stderr or "limit" in result.stderr
    assert took < 1 + 5, f"took {took:.1f}s with a 1 s limit"
