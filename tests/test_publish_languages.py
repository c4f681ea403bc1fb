"""Pages mark text in another language than their own with lang, and follow a change of it."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

from acbatch.publish.model import Turn
from acbatch.publish.render import render_show
from acbatch.publish.views import lang_attribute
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def test_lang_attribute_compares_primary_languages() -> None:
    assert lang_attribute("en", "en-US") == ""
    assert lang_attribute("zh-Hans", "zh") == ""
    assert lang_attribute("ja", "en") == ' lang="ja"'
    assert lang_attribute("en", "yue") == ' lang="en"'


def test_pages_follow_the_show_language(tmp_path: Path) -> None:
    config = sample_config(tmp_path / "show")
    japanese = sample_episode(
        config,
        "ocha",
        title="おちゃの はなし",
        language="ja",
        turns=(Turn("A", "ゆい", "おちゃは のみものです。"),),
        pub_date=datetime(2024, 2, 1, tzinfo=timezone.utc),
    )
    english = sample_episode(config, "tides")
    episodes = [japanese, english]
    render_show(config, episodes, now=NOW)
    output = config.paths.output
    index = (output / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in index
    assert '<article id="ocha" lang="ja">' in index
    assert '<article id="tides">' in index
    ocha = (output / "episodes/ocha/notes.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in ocha and "<main>" in ocha
    assert '<h2 lang="en">Transcript</h2>' in ocha
    assert '#ocha" lang="en">Sample Show</a>' in ocha
    tides = (output / "episodes/tides/notes.html").read_text(encoding="utf-8")
    assert "<h2>Transcript</h2>" in tides and 'lang="' not in tides.split("<html", 1)[1][10:]

    in_japanese = dataclasses.replace(config, show=dataclasses.replace(config.show, language="ja"))
    render_show(in_japanese, episodes, now=NOW)
    index = (output / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in index
    assert '<article id="ocha">' in index
    assert '<article id="tides" lang="en">' in index
    assert '<a href="feed.xml" lang="en">RSS feed</a>' in index
    tides = (output / "episodes/tides/notes.html").read_text(encoding="utf-8")
    assert '#tides" lang="ja">Sample Show</a>' in tides
    ocha = (output / "episodes/ocha/notes.html").read_text(encoding="utf-8")
    assert '#ocha">Sample Show</a>' in ocha
