"""The built-in item templates, rendered by Jinja, keep any text well-formed and intact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from acbatch.project.defaults import build
from acbatch.project.model import Publish, ShowConfig
from acbatch.publish.artwork import PublishedImage
from acbatch.publish.model import Chapter
from acbatch.publish.render import render_show
from acbatch.publish.templating import Templates
from acbatch.publish.views import episode_view, show_view
from tests.samples import sample_config, sample_episode

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
ITEM_TEMPLATES = ("feed_item.xml.j2", "index_item.html.j2")
# Text that escaping, CDATA splitting and cleaning must all get right.
PIECES = ["", " ", "<b>", "&amp;", "'", '"', "]]>", "\x00", "é🎧", "a\nb", "\n\n", "#", "*x*"]
text = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=5).map("".join)
NS = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "podcast": "https://podcastindex.org/namespace/1.0",
}
NAMESPACES = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
urls = st.sampled_from([None, "", "https://l.example/<x>?a=1&b='2'", "ftp://no", "http://x y/ü"])


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(None)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ShowConfig:
    return sample_config(tmp_path_factory.mktemp("items") / "show")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    episode_id=st.sampled_from(["ep1", "e p", "é/x", "a&b<c>"]),
    title=text,
    description=text,
    speakers=st.lists(text, max_size=3),
    keywords=st.lists(text, max_size=3),
    chapter_titles=st.lists(text.filter(str.strip), max_size=3),
    season=st.sampled_from([None, 1, 12]),
    number=st.sampled_from([None, 3]),
    explicit=st.sampled_from([None, True, False]),
    link=urls,
    source_link=urls,
    language=st.sampled_from(["en", "zh_yue", "ja"]),
    has_transcript=st.booleans(),
    episode_image=st.sampled_from([None, PublishedImage(url="https://x.example/<a>.png")]),
    show_image=st.sampled_from([None, PublishedImage(url="https://s.example/i&.png")]),
    minutes=st.integers(0, 10**6),
    size=st.integers(1, 10**9),
    seconds=st.floats(0, 10**5),
)
def test_items_are_well_formed_and_carry_the_text_as_written(
    templates: Templates,
    config: ShowConfig,
    episode_id: str,
    title: str,
    description: str,
    speakers: list[str],
    keywords: list[str],
    chapter_titles: list[str],
    season: int | None,
    number: int | None,
    explicit: bool | None,
    link: str | None,
    source_link: str | None,
    language: str,
    has_transcript: bool,
    episode_image: PublishedImage | None,
    show_image: PublishedImage | None,
    minutes: int,
    size: int,
    seconds: float,
) -> None:
    episode = sample_episode(
        config,
        episode_id,
        title=title,
        description=description,
        write_audio=False,
        language=language,
        pub_date=datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
        publish=build(
            Publish,
            season=season,
            episode=number,
            explicit=explicit,
            link=link,
            keywords=tuple(keywords),
        ),
    )
    episode = replace(episode, speakers=tuple(speakers), source_link=source_link)
    chapters = [Chapter(t, i * 10.0, 99.0) for i, t in enumerate(chapter_titles)]
    view = episode_view(
        episode,
        show=config.show,
        audio_relpath=f"episodes/{episode_id}/{episode_id}.mp3",
        audio_size=size,
        duration=seconds,
        chapters=chapters,
        has_transcript=has_transcript,
        image=episode_image,
    )
    show = show_view(config.show, show_image, NOW)
    feed_item = templates.render("feed_item.xml.j2", show=show, episode=view).strip()
    item = ET.fromstring(f"<rss {NAMESPACES}><channel>{feed_item}</channel></rss>")[0][0]
    assert item.findtext("title") == view.title
    assert item.findtext("guid") == view.guid
    assert item.findtext("description") == str(view.description_html)
    assert str(view.description_html) in (item.findtext("content:encoded", namespaces=NS) or "")
    enclosure = item.find("enclosure")
    assert enclosure is not None and enclosure.get("length") == str(size)
    assert enclosure.get("url") == view.enclosure_url
    assert item.findtext("itunes:episode", namespaces=NS) == (
        None if number is None else str(number)
    )
    image = item.find("itunes:image", namespaces=NS)
    expected_image = episode_image or show_image
    assert (image is None) == (expected_image is None)
    if image is not None and expected_image is not None:
        assert image.get("href") == expected_image.url

    article = templates.render("index_item.html.j2", show=show, episode=view).strip()
    assert f">{escape(view.title)}</a></h2>" in article
    assert article.count("<article") == 1 and article.endswith("</article>")
    for speaker in view.speakers:
        assert str(escape(speaker)) in article


def test_whole_feed_and_page_are_the_same_through_jinja(tmp_path: Path) -> None:
    """Project copies of the item templates (plus a Jinja comment) give the built-ins' bytes."""
    outputs = []
    for folder, override in (("built-in", False), ("override", True)):
        config = sample_config(tmp_path / folder / "show", keywords=("a", "b<"))
        if override:
            config.paths.templates.mkdir(parents=True)
            for name in ITEM_TEMPLATES:
                source = Templates(None).source(name)
                (config.paths.templates / name).write_text(source + "{# same #}", "utf-8")
        episodes = [
            sample_episode(
                config,
                f"ep{i}",
                seconds=0.5,
                title=f"Title {i} <&> ]]>",
                pub_date=NOW - timedelta(days=i),
                publish=build(Publish, season=1, episode=i + 1, keywords=("k", "<v>")),
            )
            for i in range(3)
        ]
        render_show(config, episodes, now=NOW)
        outputs.append(
            [(config.paths.output / name).read_bytes() for name in ("feed.xml", "index.html")]
        )
    assert outputs[0] == outputs[1]
