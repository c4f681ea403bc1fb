"""The render checks only the feed items it has not checked before, and finds what a check of
the whole feed finds."""

from __future__ import annotations

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
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def episodes_of(config: ShowConfig, count: int = 6) -> list[PublishedEpisode]:
    return [
        sample_episode(
            config,
            f"ep{i}",
            seconds=0.3,
            pub_date=NOW - timedelta(days=i),
            publish=build(Publish, episode=i + 1),
        )
        for i in range(count)
    ]


def lines(problems: object) -> list[str]:
    return [str(p) for p in problems]  # type: ignore[attr-defined]


def test_an_incremental_check_reports_what_the_whole_feed_check_reports(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show", owner=None)
    episodes = episodes_of(config)
    first = render_show(config, episodes, now=NOW)
    assert any("itunes:owner" in line for line in lines(first.problems))

    # One episode changed: only its item is checked again; the findings are the whole feed's.
    episodes[3] = replace(episodes[3], title="A new title")
    again = render_show(config, episodes, now=NOW)
    assert again.unchanged == [e.id for e in episodes if e.id != "ep3"]
    assert lines(again.problems) == lines(check_feed_file(again.feed_path))
    assert lines(again.problems) == lines(first.problems)


def test_errors_found_incrementally_equal_those_of_a_cold_render(tmp_path: Path) -> None:
    reports = []
    for folder, warm in (("cold", False), ("warm", True)):
        config = sample_config(tmp_path / folder / "show", owner=None)
        episodes = episodes_of(config)
        if warm:  # everything checked once, then two items go wrong
            render_show(config, episodes, now=NOW)
        episodes[2] = replace(episodes[2], guid=episodes[1].guid)
        episodes[4] = replace(episodes[4], guid=" ")
        with pytest.raises(FeedCheckError) as caught:
            render_show(config, episodes, now=NOW)
        reports.append(lines(caught.value.problems))
    assert reports[0] == reports[1]
    assert any("not unique (also item #2)" in line for line in reports[0])
    assert any('item/guid (item "Episode ep4", guid -): missing' in line for line in reports[0])
    assert any("itunes:owner" in line for line in reports[0])
