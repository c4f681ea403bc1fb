"""The hand-compiled built-in item templates give exactly what Jinja gives for the .j2 files."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acbatch.publish import builtin_items
from acbatch.publish.artwork import PublishedImage
from acbatch.publish.model import Chapter
from acbatch.publish.render import render_show
from acbatch.publish.samples import sample_config, sample_episode
from acbatch.publish.templating import Templates
from acbatch.publish.views import episode_view, show_view
from acbatch.spec.model import Publish, ShowConfig

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
ITEM_TEMPLATES = ("feed_item.xml.j2", "index_item.html.j2")
# Text that escaping, CDATA splitting and cleaning must all get right.
PIECES = ["", " ", "<b>", "&amp;", "'", '"', "]]>", "\x00", "é🎧", "a\nb", "\n\n", "#", "*x*"]
text = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=5).map("".join)
urls = st.sampled_from([None, "", "https://l.example/<x>?a=1&b='2'", "ftp://no", "http://x y/ü"])


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(None)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ShowConfig:
    return sample_config(tmp_path_factory.mktemp("items") / "show")


def test_digests_pin_the_builtin_template_sources(templates: Templates) -> None:
    # A failure here means a built-in item template changed: update the function mirroring it
    # in acbatch/publish/builtin_items.py, then its digest (until then Jinja renders it).
    for name in ITEM_TEMPLATES:
        source = templates.source(name)
        assert builtin_items.SOURCE_DIGESTS[name] == builtin_items.source_digest(source), name
        assert builtin_items.compiled(name, source) is not None
        assert builtin_items.compiled(name, source + "\n") is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
def test_compiled_items_equal_jinja(
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
        publish=Publish(
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
    for name in ITEM_TEMPLATES:
        compiled = builtin_items.compiled(name, templates.source(name))
        assert compiled is not None
        expected = templates.render(name, show=show, episode=view).strip()
        assert compiled(view, show) == expected, name


def test_whole_feed_and_page_are_the_same_through_jinja(tmp_path: Path) -> None:
    """Copies of the item templates with a Jinja comment render through Jinja, same bytes."""
    outputs = []
    for folder, override in (("compiled", False), ("jinja", True)):
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
                publish=Publish(season=1, episode=i + 1, keywords=("k", "<v>")),
            )
            for i in range(3)
        ]
        render_show(config, episodes, now=NOW)
        outputs.append(
            [(config.paths.output / name).read_bytes() for name in ("feed.xml", "index.html")]
        )
    assert outputs[0] == outputs[1]
