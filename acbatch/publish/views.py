"""Template-ready views of the show and its episodes (all text cleaned, URLs built).

Every string a template can reach here is XML-legal (cleaned when the view is built), so the
markup templates need no per-value filtering beyond autoescaping.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import cached_property, lru_cache
from typing import NamedTuple

from markupsafe import Markup

from acbatch import __version__
from acbatch.constants import PODCAST_TEXT_LIMIT
from acbatch.project.model import ShowInfo
from acbatch.publish.artwork import PublishedImage
from acbatch.publish.categories import group_categories
from acbatch.publish.feedurls import FEED_FILE, base_folder_url, feed_url, podcast_guid
from acbatch.publish.identity import FeedIdentity
from acbatch.publish.model import Chapter, Person, PublishedEpisode, Soundbite, TimedTurn
from acbatch.publish.text import (
    clean,
    cleaned_paragraphs_html,
    clock,
    one_line,
    one_line_cached,
    paragraphs_html,
    quote_part,
    quote_relpath,
    safe_http_url,
    xml_safe,
)
from acbatch.publish.transcripts import CHAPTERS_FILE, CHAPTERS_TYPE, TRANSCRIPT_FORMATS

GENERATOR = f"acbatch {__version__}"
NOTES_HTML = "notes.html"
NOTES_MD = "notes.md"

# API language codes -> BCP 47 tags for feeds and HTML.
_BCP47 = {"zh": "zh-Hans", "zh_yue": "yue"}

TRANSCRIPT_LABELS = {
    "transcript.vtt": "WebVTT",
    "transcript.srt": "SRT",
    "transcript.json": "JSON",
}


def bcp47(api_language: str) -> str:
    return _BCP47.get(api_language, api_language.replace("_", "-"))


UI_LANGUAGE = "en"
"""The language of the words templates write themselves (headings, link labels)."""
_NO_ATTRIBUTE = Markup("")


@lru_cache(maxsize=256)
def lang_attribute(language: str, within: str) -> Markup:
    """' lang="<language>"' for text in `language` inside an element in `within`, or nothing
    when both are the same language (their primary subtags match)."""
    if _primary(language) == _primary(within) or not language:
        return _NO_ATTRIBUTE
    return Markup(' lang="%s"') % language


def _primary(language: str) -> str:
    return language.split("-", 1)[0].lower()


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ZONES: dict[timedelta | None, str] = {}


def rfc2822(moment: datetime) -> str:
    """email.utils.format_datetime(moment), without its per-call strftime (one per zone)."""
    if moment.tzinfo is None:
        return format_datetime(moment)
    offset = moment.utcoffset()
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES[offset] = moment.strftime("%z")
    return (
        f"{_DAY_NAMES[moment.weekday()]}, {moment.day:02d} {_MONTH_NAMES[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {zone}"
    )


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def true_false(flag: bool) -> str:
    return "true" if flag else "false"


class Link(NamedTuple):
    label: str
    url: str
    """Absolute URL (feed)."""
    href: str
    """Relative to output/ (site)."""
    type: str = ""


class HighlightView(NamedTuple):
    title: str
    start: float
    clock: str


def podcast_text(text: str | None) -> str:
    """One line of text, cut to Podcasting 2.0's 128 characters."""
    return one_line(text)[:PODCAST_TEXT_LIMIT].strip()


class PersonView(NamedTuple):
    name: str
    role: str
    img: str | None


class SoundbiteView(NamedTuple):
    title: str
    start_time: str
    duration: str


class FundingView(NamedTuple):
    url: str
    text: str


class LicenseView(NamedTuple):
    name: str
    url: str | None


class TrailerView(NamedTuple):
    title: str
    pubdate: str
    url: str
    length: int
    type: str
    season: int | None


def license_view(show: ShowInfo) -> LicenseView | None:
    """podcast:license: a well-known license (no URL) by its lower-case identifier, as the
    namespace's license list writes it; a license of the show's own as written, with its URL."""
    if show.license is None or not podcast_text(show.license.name):
        return None
    url = safe_http_url(show.license.url)
    name = podcast_text(show.license.name)
    return LicenseView(name if url else name.lower(), url)


def person_views(people: Sequence[Person]) -> list[PersonView]:
    views = []
    for person in people:
        name = podcast_text(person.name)
        if name:
            views.append(PersonView(name, person.role, safe_http_url(person.img)))
    return views


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.1f}"


class TurnView(NamedTuple):
    speaker: str
    text: str
    text_html: Markup
    start: float
    clock: str


class Alternate(NamedTuple):
    """The same show in another language, for `<link rel="alternate" hreflang=...>`."""

    hreflang: str
    """A BCP 47 tag, or x-default for the page that lets the reader choose."""
    href: str
    """Relative to the page that links it."""
    title: str = ""


@dataclass
class ShowView:
    title: str
    description: str
    description_html: Markup
    author: str
    language: str
    link: str
    copyright: str
    explicit: str
    type: str
    owner_name: str
    owner_email: str
    image: PublishedImage | None
    categories: list[tuple[str, list[str]]]
    feed_url: str
    feed_href: str
    podcast_guid: str
    new_feed_url: str | None
    locked: str
    generator: str
    last_build_date: str
    keywords: list[str]
    ui_lang_attr: Markup
    """' lang="en"' for the templates' own English words on a page in another language."""
    people: list[PersonView] = field(default_factory=list)
    """The show's hosts (podcast:person in the channel)."""
    funding: list[FundingView] = field(default_factory=list)
    license: LicenseView | None = None
    medium: str | None = None
    trailers: list[TrailerView] = field(default_factory=list)
    """Published trailer episodes (podcast:trailer), newest first."""
    alternates: Sequence[Alternate] = ()
    """The show's site in its other languages (a show published per language), else empty."""


@dataclass
class EpisodeView:
    id: str
    guid: str
    title: str
    description: str
    description_html: Markup
    pub_date: str
    pub_date_iso: str
    pub_day: str
    duration: int
    duration_clock: str
    enclosure_url: str
    enclosure_length: int
    enclosure_type: str
    audio_href: str
    season: int | None
    episode: int | None
    episode_type: str
    explicit: str
    image: PublishedImage | None
    link: str
    notes_url: str
    notes_href: str
    source_link: str | None
    keywords: list[str]
    language: str
    speakers: list[str]
    highlights: list[HighlightView]
    transcripts: list[Link]
    chapters: Link | None
    timed_turns: list[TimedTurn]
    """Spoken turns on the timeline; empty when only the feed and page fragments are built."""
    lang_attr: Markup
    """' lang="xx"' when the episode's language is not the show's (its article on the index)."""
    ui_lang_attr: Markup
    """' lang="en"' for the templates' own English words within the episode's content."""
    show_lang_attr: Markup
    """' lang="xx"' for the show's own text (its title) on the episode's notes page."""
    people: list[PersonView] = field(default_factory=list)
    """The episode's speakers, hosts and guests (podcast:person in the item)."""
    soundbites: list[SoundbiteView] = field(default_factory=list)
    """The highlights' stretches of the audio (podcast:soundbite); empty when only the site's
    fragments are built."""
    alternates: Sequence[Alternate] = ()
    """This episode in the show's other languages, for its notes page's hreflang links."""

    @cached_property
    def turns(self) -> list[TurnView]:
        """The spoken turns for show notes (built on first use: the feed does not need them)."""
        return [
            TurnView(
                speaker=one_line(t.speaker),
                text=t.text,
                text_html=paragraphs_html(t.text),
                start=t.start,
                clock=clock(t.start),
            )
            for t in self.timed_turns
        ]

    def local(self, href: str) -> str:
        """An output/-relative href as seen from output/episodes/<id>/ (for the notes)."""
        return posixpath.relpath(href, f"episodes/{quote_relpath(self.id)}")


def show_view(
    show: ShowInfo,
    image: PublishedImage | None,
    now: datetime,
    language: str | None = None,
    identity: FeedIdentity | None = None,
    hosts: Sequence[Person] = (),
    alternates: Sequence[Alternate] = (),
) -> ShowView:
    """The show as templates see it; `identity` (recorded guid, feed move) when known."""
    base = base_folder_url(show.base_url)
    own_feed = feed_url(show.base_url)
    owner_email = show.owner.email if show.owner else ""
    return ShowView(
        title=one_line(show.title),
        description=clean(show.description),
        description_html=paragraphs_html(show.description),
        author=one_line(show.author),
        language=language or show.language,
        link=safe_http_url(show.link) or base,
        copyright=one_line(show.copyright),
        explicit=true_false(show.explicit),
        type=show.type,
        owner_name=one_line(show.owner.name) if show.owner else "",
        owner_email=one_line(owner_email),
        image=image,
        categories=group_categories(show.categories),
        feed_url=own_feed,
        feed_href=FEED_FILE,
        podcast_guid=identity.podcast_guid
        if identity
        else (show.guid.lower() if show.guid else podcast_guid(own_feed)),
        new_feed_url=identity.new_feed_url if identity else None,
        locked=yes_no(show.locked),
        generator=GENERATOR,
        last_build_date=rfc2822(now),
        keywords=[one_line(k) for k in show.keywords if one_line(k)],
        ui_lang_attr=lang_attribute(UI_LANGUAGE, language or show.language),
        people=person_views(hosts),
        funding=[
            FundingView(url, podcast_text(entry.text))
            for entry in show.funding
            if (url := safe_http_url(entry.url)) and podcast_text(entry.text)
        ],
        license=license_view(show),
        medium=show.medium,
        alternates=tuple(alternates),
    )


def episode_view(
    episode: PublishedEpisode,
    *,
    show: ShowInfo,
    audio_relpath: str,
    audio_size: int,
    duration: float,
    chapters: Sequence[Chapter],
    has_transcript: bool,
    image: PublishedImage | None,
    turns: Sequence[TimedTurn] = (),
    bites: Sequence[Soundbite] = (),
) -> EpisodeView:
    """The episode as templates see it; `turns` are only needed for the show notes."""
    folder = "episodes/" + quote_part(episode.id) + "/"
    base = base_folder_url(show.base_url)
    base_folder = base + folder
    transcripts = (
        [
            Link(TRANSCRIPT_LABELS[name], base_folder + name, folder + name, mime)
            for name, mime in TRANSCRIPT_FORMATS.items()
        ]
        if has_transcript
        else []
    )
    chapters_link = (
        Link("Chapters", base_folder + CHAPTERS_FILE, folder + CHAPTERS_FILE, CHAPTERS_TYPE)
        if chapters
        else None
    )
    audio_href = quote_relpath(audio_relpath)
    notes_url = base_folder + NOTES_HTML
    publish = episode.publish
    explicit = show.explicit if publish.explicit is None else publish.explicit
    whole_seconds = int(duration)
    pub_date = episode.pub_date
    description = clean(episode.description)
    pub_date_iso = pub_date.isoformat()
    language = bcp47(episode.language)
    return EpisodeView(
        id=xml_safe(episode.id),
        guid=one_line(episode.guid),
        title=one_line(episode.title) or xml_safe(episode.id),
        description=description,
        description_html=cleaned_paragraphs_html(description),
        pub_date=rfc2822(pub_date),
        pub_date_iso=pub_date_iso,
        pub_day=pub_date_iso[:10],  # the date part of YYYY-MM-DDTHH:MM:SS...
        duration=whole_seconds,
        duration_clock=clock(whole_seconds),
        enclosure_url=base + audio_href,
        enclosure_length=audio_size,
        enclosure_type="audio/mpeg",
        audio_href=audio_href,
        season=publish.season,
        episode=publish.episode,
        episode_type=publish.episode_type,
        explicit="true" if explicit else "false",
        image=image,
        link=safe_http_url(publish.link) or notes_url,
        notes_url=notes_url,
        notes_href=folder + NOTES_HTML,
        source_link=safe_http_url(episode.source_link),
        keywords=[k for k in map(one_line_cached, publish.keywords) if k],
        language=language,
        speakers=[s for s in map(one_line_cached, episode.speakers) if s],
        highlights=[HighlightView(c.title, c.start, clock(c.start)) for c in chapters],
        transcripts=transcripts,
        chapters=chapters_link,
        timed_turns=[t for t in turns if t.text],
        lang_attr=lang_attribute(language, show.language),
        ui_lang_attr=lang_attribute(UI_LANGUAGE, language),
        show_lang_attr=lang_attribute(show.language, language),
        people=person_views(episode.people),
        soundbites=[
            SoundbiteView(podcast_text(bite.title), _seconds(bite.start), _seconds(bite.duration))
            for bite in bites
        ],
        alternates=[Alternate(tag, href) for tag, href in episode.alternates],
    )
