"""Items checked in a second process find exactly what the render's own process would."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from acbatch.publish import render
from acbatch.publish.checking import ItemCheck
from acbatch.publish.errors import FeedCheckError
from acbatch.publish.feedcheck import check_feed
from acbatch.publish.render import render_show
from acbatch.publish.samples import sample_config, sample_episode
from acbatch.spec.model import Publish

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
BASE = "https://example.com/pod/"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">\n'
    b"<channel>\n<title>T</title>\n<description>D</description>\n<language>en</language>\n"
    b'<itunes:image href="https://example.com/a.png"/>\n'
    b'<itunes:category text="Science"/>\n<itunes:explicit>false</itunes:explicit>\n'
)
TAIL = b"</channel>\n</rss>\n"


def item(number: int, *, guid: str | None = None, length: int = 1234) -> bytes:
    guid = f"g{number}" if guid is None else guid
    return (
        f"<item><title>Item {number} &amp; co</title><guid>{guid}</guid>"
        f'<enclosure url="{BASE}{number}.mp3" length="{length}" type="audio/mpeg"/>'
        f"<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>"
        f"<itunes:duration>{number % 7 or 'x'}</itunes:duration></item>"
    ).encode()


def items_with_problems(root: Path) -> list[bytes]:
    """Items with wrong durations, a duplicate and a missing guid, wrong and missing files."""
    for number in range(0, 40, 2):
        (root / f"{number}.mp3").write_bytes(b"x" * 1234)
    items = [item(n) for n in range(40)]
    items[5] = item(5, guid="g3")
    items[9] = item(9, guid="")
    items[12] = item(12, length=99)
    return items


def check(root: Path, items: list[bytes], worker_min_items: int) -> ItemCheck:
    return ItemCheck(
        HEAD, b"\n", TAIL, local_root=root, base_url=BASE, worker_min_items=worker_min_items
    )


def test_worker_findings_equal_in_process_findings(tmp_path: Path) -> None:
    items = items_with_problems(tmp_path)
    expected = check_feed(
        HEAD + b"".join(i + b"\n" for i in items) + TAIL, local_root=tmp_path, base_url=BASE
    )
    assert len([p for p in expected if p.in_item]) > 20
    for worker_min_items in (10**9, 1, 17):
        with check(tmp_path, items, worker_min_items) as item_check:
            for one in items:
                item_check.add(one)
            in_worker = worker_min_items <= len(items)
            assert item_check.in_worker == in_worker
            assert item_check.finish() == expected
            assert item_check.checked_by_worker == in_worker


def test_a_dead_worker_leaves_the_check_to_the_render(tmp_path: Path) -> None:
    items = items_with_problems(tmp_path)
    expected = check_feed(
        HEAD + b"".join(i + b"\n" for i in items) + TAIL, local_root=tmp_path, base_url=BASE
    )
    with check(tmp_path, items, 1) as item_check:
        item_check.add(items[0])
        pid = item_check.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for one in items[1:]:
            item_check.add(one)
        assert item_check.finish() == expected
        assert not item_check.checked_by_worker


def test_render_with_a_worker_reports_what_render_alone_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = []
    for folder, worker_min_items in (("alone", 10**9), ("worker", 1)):
        monkeypatch.setattr(render, "WORKER_MIN_ITEMS", worker_min_items)
        config = sample_config(tmp_path / folder / "show", owner=None)
        episodes = [
            sample_episode(
                config,
                f"ep{i}",
                seconds=0.3,
                pub_date=NOW - timedelta(days=i),
                publish=Publish(episode=i + 1),
            )
            for i in range(6)
        ]
        episodes[2] = replace(episodes[2], guid=episodes[1].guid)
        episodes[4] = replace(episodes[4], guid=" ")
        with pytest.raises(FeedCheckError) as caught:
            render_show(config, episodes, now=NOW)
        reports.append([str(p) for p in caught.value.problems])
    assert reports[0] == reports[1]
    assert any("not unique (also item #2)" in line for line in reports[0])
    assert any('item/guid (item "Episode ep4", guid -): missing' in line for line in reports[0])
    assert any("itunes:owner" in line for line in reports[0])
