"""The built-in feed item and page article templates, compiled by hand.

feed_item.xml.j2 and index_item.html.j2 stay the reference (and what a project copies to
override them). Rendering them through Jinja costs a context, an attribute lookup per field
and an escape call per value for each of thousands of episodes; the functions here produce the
same bytes several times faster. They are used only while the template in effect has exactly
the source they were written from (SOURCE_DIGESTS): an edited or overridden template is
rendered by Jinja. The tests compare both renderings on many episodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from acbatch.publish.text import escape_text, xml_safe
from acbatch.publish.views import EpisodeView, ShowView

ItemRenderer = Callable[[EpisodeView, ShowView], str]

SOURCE_DIGESTS = {
    "feed_item.xml.j2": "d8e1362f5be50c1b89ea7a983e5aef85609c813f7a4426c21c3c7b9c5394db82",
    "index_item.html.j2": "9b6e5ec583215e3fe02dea0cb6c881c623c5faf3536816af4c31321fd13ec992",
}


escape = escape_text


def _cdata(html: str) -> str:
    """text.cdata() as a plain string."""
    return xml_safe(str(html)).replace("]]>", "]]]]><![CDATA[>")


def _number(value: object) -> str:
    """An integer field as Jinja prints it (anything else escaped like any value)."""
    return str(value) if type(value) is int else escape(str(value))


def feed_item(episode: EpisodeView, show: ShowView) -> str:
    """feed_item.xml.j2, stripped as render_show keeps it."""
    e = escape
    title = e(episode.title)
    chapters = ""
    if episode.highlights:
        lines = "".join([f"<li>{e(h.clock)} {e(h.title)}</li>\n" for h in episode.highlights])
        chapters = f"<h3>Chapters</h3>\n<ul>\n{lines}</ul>\n"
    speakers = ""
    if episode.speakers:
        speakers = f"<p>Speakers: {e(', '.join(episode.speakers))}</p>\n"
    source = f' · <a href="{e(episode.source_link)}">Source</a>' if episode.source_link else ""
    notes = _cdata(
        f"{episode.description_html}\n{chapters}{speakers}"
        f'<p><a href="{e(episode.notes_url)}">Show notes and transcript</a>{source}</p>\n'
    )
    numbers = ""
    if episode.episode is not None:
        numbers += f"<itunes:episode>{_number(episode.episode)}</itunes:episode>\n"
    if episode.season is not None:
        numbers += f"<itunes:season>{_number(episode.season)}</itunes:season>\n"
    image = episode.image or show.image
    image_tag = f'<itunes:image href="{e(image.url)}"/>\n' if image else ""
    keywords = ""
    if episode.keywords:
        keywords = f"<itunes:keywords>{e(','.join(episode.keywords))}</itunes:keywords>\n"
    language = e(episode.language)
    links = "".join(
        [
            f'<podcast:transcript url="{e(t.url)}" type="{e(t.type)}" language="{language}"'
            + (' rel="captions"/>\n' if t.type == "text/vtt" else "/>\n")
            for t in episode.transcripts
        ]
    )
    if episode.chapters:
        chapter_file = episode.chapters
        links += f'<podcast:chapters url="{e(chapter_file.url)}" type="{e(chapter_file.type)}"/>\n'
    if episode.season is not None:
        links += f"<podcast:season>{_number(episode.season)}</podcast:season>\n"
    if episode.episode is not None:
        links += f"<podcast:episode>{_number(episode.episode)}</podcast:episode>\n"
    return (
        f"<item>\n<title>{title}</title>\n<itunes:title>{title}</itunes:title>\n"
        f"<link>{e(episode.link)}</link>\n"
        f"<description><![CDATA[{_cdata(episode.description_html)}]]></description>\n"
        f"<content:encoded><![CDATA[{notes}]]></content:encoded>\n"
        f'<enclosure url="{e(episode.enclosure_url)}" length="{_number(episode.enclosure_length)}"'
        f' type="{e(episode.enclosure_type)}"/>\n'
        f'<guid isPermaLink="false">{e(episode.guid)}</guid>\n'
        f"<pubDate>{e(episode.pub_date)}</pubDate>\n"
        f"<itunes:duration>{_number(episode.duration)}</itunes:duration>\n"
        f"{numbers}"
        f"<itunes:episodeType>{e(episode.episode_type)}</itunes:episodeType>\n"
        f"<itunes:explicit>{e(episode.explicit)}</itunes:explicit>\n"
        f"{image_tag}{keywords}{links}</item>"
    )


def site_item(episode: EpisodeView, show: ShowView) -> str:
    """index_item.html.j2, stripped as render_show keeps it."""
    e = escape
    ui = episode.ui_lang_attr
    notes_href = e(episode.notes_href)
    numbers = ""
    if episode.season is not None:
        numbers += f" · <span{ui}>Season {_number(episode.season)}</span>"
    if episode.episode is not None:
        numbers += f" · <span{ui}>Episode {_number(episode.episode)}</span>"
    chapters = ""
    if episode.highlights:
        lines = "".join(
            [
                f'<li><span class="ts">{e(h.clock)}</span>{e(h.title)}</li>\n'
                for h in episode.highlights
            ]
        )
        chapters = f'<ul class="chapters">\n{lines}</ul>\n'
    speakers = ""
    if episode.speakers:
        speakers = f'<p class="meta"><span{ui}>With</span> {e(", ".join(episode.speakers))}</p>\n'
    links = "".join(
        [
            f'<a href="{e(t.href)}" type="{e(t.type)}"{ui}>Transcript ({e(t.label)})</a>'
            for t in episode.transcripts
        ]
    )
    if episode.chapters:
        links += f'<a href="{e(episode.chapters.href)}" type="application/json"{ui}>Chapters</a>'
    if episode.source_link:
        links += f'<a href="{e(episode.source_link)}" rel="nofollow noopener"{ui}>Source</a>'
    return (
        f'<article id="{e(episode.id)}"{episode.lang_attr}>\n'
        f'<h2><a href="{notes_href}">{e(episode.title)}</a></h2>\n'
        f'<p class="meta"><time datetime="{e(episode.pub_date_iso)}">{e(episode.pub_day)}</time>'
        f" · {e(episode.duration_clock)}{numbers}</p>\n"
        f'<audio controls preload="none" src="{e(episode.audio_href)}"></audio>\n'
        f"{episode.description_html}\n{chapters}{speakers}"
        f'<p class="links"><a href="{notes_href}"{ui}>Show notes</a>{links}</p>\n</article>'
    )


_COMPILED: dict[str, ItemRenderer] = {
    "feed_item.xml.j2": feed_item,
    "index_item.html.j2": site_item,
}


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def compiled(name: str, source: str) -> ItemRenderer | None:
    """The hand-compiled renderer for template `name` when `source` is what it mirrors."""
    renderer = _COMPILED.get(name)
    if renderer is None or SOURCE_DIGESTS.get(name) != source_digest(source):
        return None
    return renderer
