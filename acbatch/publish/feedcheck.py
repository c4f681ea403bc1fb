"""Checking a podcast RSS feed against Apple's requirements and the Podcasting 2.0 rules.

Parsing uses the standard library only. DOCTYPE and ENTITY declarations are refused before the
document is parsed, so entity-expansion ("billion laughs") and external-entity tricks cannot
work. The feed is checked as it streams in: each item is checked when its end tag arrives and
then emptied, so memory stays bounded by the channel's own elements, whatever the feed's size.
"""

from __future__ import annotations

import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from acbatch.constants import PODCAST_TEXT_LIMIT
from acbatch.publish.categories import APPLE_CATEGORIES
from acbatch.publish.feedurls import names_artwork_file, non_public_reason
from acbatch.publish.languages import is_iso_639
from acbatch.publish.transcripts import CHAPTERS_TYPE

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ITUNES_ALIASES = (ITUNES, "http://www.itunes.com/DTDs/Podcast-1.0.dtd")
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM = "http://www.w3.org/2005/Atom"
PODCAST = "https://podcastindex.org/namespace/1.0"

MAX_DESCRIPTION_BYTES = 4000
AUDIO_TYPES = frozenset(
    {
        "audio/mpeg",
        "audio/x-m4a",
        "audio/mp4",
        "audio/aac",
        "video/mp4",
        "video/quicktime",
        "video/x-m4v",
        "application/pdf",
    }
)
EPISODE_TYPES = frozenset({"full", "trailer", "bonus"})
SHOW_TYPES = frozenset({"episodic", "serial"})
# Seconds, M:SS or H:MM:SS, whole seconds (what directories and the W3C validator accept).
_DURATION = re.compile(r"^\d+(?::[0-5]\d(?::[0-5]\d)?)?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+[^\s]*$", re.IGNORECASE)
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A tag or an entity left in text once the XML is parsed: HTML where plain text belongs.
_HTML_IN_TEXT = re.compile(
    r"<\s*/?\s*[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?\s*>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"
)
ArtworkLoader = Callable[[str, "str | None"], "bytes | None"]
"""Gets an artwork URL's bytes for the artwork check, given the URL and the folder of the
feed's own URL: None when it is not within reach (not checked), OSError when fetching it
failed (a warning)."""
MAX_ARTWORK_CHECKS = 20


_CHANNEL_SINGLETONS = frozenset(
    {
        "title",
        "link",
        "description",
        "language",
        "copyright",
        "lastBuildDate",
        "pubDate",
        "ttl",
        "image",
        *(
            f"{{{ITUNES}}}{name}"
            for name in ("author", "explicit", "image", "owner", "type", "summary", "new-feed-url")
        ),
        f"{{{PODCAST}}}guid",
        f"{{{PODCAST}}}locked",
    }
)
_ITEM_SINGLETONS = frozenset(
    {
        "title",
        "link",
        "description",
        "guid",
        "pubDate",
        "enclosure",
        *(
            f"{{{ITUNES}}}{name}"
            for name in (
                "title",
                "duration",
                "episode",
                "season",
                "episodeType",
                "explicit",
                "image",
            )
        ),
        f"{{{CONTENT}}}encoded",
    }
)


# RSS 2.0's own elements, and the iTunes tags Apple documents (or the W3C validator knows).
_RSS_CHANNEL_ELEMENTS = frozenset(
    [
        "title",
        "link",
        "description",
        "language",
        "copyright",
        "managingEditor",
        "webMaster",
        "pubDate",
        "lastBuildDate",
        "category",
        "generator",
        "docs",
        "cloud",
        "ttl",
        "image",
        "rating",
        "textInput",
        "skipHours",
        "skipDays",
        "item",
    ]
)
_RSS_ITEM_ELEMENTS = frozenset(
    [
        "title",
        "link",
        "description",
        "author",
        "category",
        "comments",
        "enclosure",
        "guid",
        "pubDate",
        "source",
    ]
)
_ITUNES_CHANNEL_TAGS = frozenset(
    [
        "author",
        "block",
        "category",
        "complete",
        "explicit",
        "image",
        "keywords",
        "new-feed-url",
        "owner",
        "pubDate",
        "subtitle",
        "summary",
        "title",
        "type",
        "applepodcastsverify",
    ]
)
_ITUNES_ITEM_TAGS = frozenset(
    [
        "author",
        "block",
        "duration",
        "episode",
        "episodeType",
        "explicit",
        "image",
        "keywords",
        "order",
        "season",
        "subtitle",
        "summary",
        "title",
    ]
)
# Length limits (characters) Apple and the W3C validator set on iTunes text tags.
_ITUNES_MAX_CHARS = {"author": 255, "keywords": 255, "subtitle": 255, "summary": 4000}
_MIME_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_HAS_EMAIL = re.compile(r"[^@\s()<>]+@[^@\s()<>]+\.[^@\s()<>]+")


# Children whose tag alone settles them (no value rule below): skipped at the cost of one lookup.
_VALUE_RULES = frozenset(
    {"managingEditor", "webMaster", "author", "docs", "comments", "source"}
    | {f"{{{ITUNES}}}{name}" for name in ("author", "keywords", "subtitle", "summary")}
    | {f"{{{ITUNES}}}{name}" for name in ("block", "complete")}
)
_QUIET_TAGS = {
    level: (rss | {f"{{{ITUNES}}}{name}" for name in itunes}) - _VALUE_RULES
    for level, rss, itunes in (
        ("channel", _RSS_CHANNEL_ELEMENTS, _ITUNES_CHANNEL_TAGS),
        ("item", _RSS_ITEM_ELEMENTS, _ITUNES_ITEM_TAGS),
    )
}


def _element_findings(parent: ET.Element, level: str) -> Iterator[tuple[str, str]]:
    """(where, message) for children a directory or the W3C validator would refuse: unknown
    RSS or iTunes elements, iTunes text over its length limit, contacts without an email,
    links that are not full URLs."""
    quiet = _QUIET_TAGS[level]
    rss, itunes = (
        (_RSS_CHANNEL_ELEMENTS, _ITUNES_CHANNEL_TAGS)
        if level == "channel"
        else (_RSS_ITEM_ELEMENTS, _ITUNES_ITEM_TAGS)
    )
    for child in parent:
        tag = child.tag
        if tag in quiet or not isinstance(tag, str):
            continue
        if not tag.startswith("{"):
            if tag not in rss:
                yield f"{level}/{tag}", "is not an RSS 2.0 element"
            elif tag in ("managingEditor", "webMaster", "author"):
                if not _HAS_EMAIL.search(child.text or ""):
                    yield f"{level}/{tag}", "must give an email address"
            elif tag in ("docs", "comments"):
                if not _HTTP_URL.match((child.text or "").strip()):
                    yield f"{level}/{tag}", f"'{(child.text or '').strip()}' is not an http(s) URL"
            elif tag == "source" and not child.get("url", "").strip():
                yield f"{level}/source", "url is missing"
            continue
        if not _canonical(tag).startswith(_ITUNES_PREFIX):
            continue  # another namespace (Podcasting 2.0, content, Atom...): checked elsewhere
        name = tag.rsplit("}", 1)[-1]
        if name not in itunes:
            yield f"{level}/itunes:{name}", "is not an Apple Podcasts tag"
            continue
        text = (child.text or "").strip()
        limit = _ITUNES_MAX_CHARS.get(name)
        if limit is not None and len(text) > limit:
            yield f"{level}/itunes:{name}", f"{len(text)} characters; at most {limit} allowed"
        if name in ("block", "complete"):
            allowed = ("yes", "no", "clean") if name == "block" else ("yes",)
            if text.lower() not in allowed:
                yield f"{level}/itunes:{name}", f"'{text}' is not Yes"


def _repeated(parent: ET.Element, singletons: frozenset[str]) -> list[str]:
    """Tags of `parent`'s children that may appear once and appear more often."""
    tags = [child.tag for child in parent]
    if any(isinstance(t, str) and t.startswith(_ITUNES_ALIAS_PREFIX) for t in tags):
        tags = [_canonical(t) if isinstance(t, str) else t for t in tags]
    return [tag for tag, count in Counter(tags).items() if count > 1 and tag in singletons]


def _pretty_tag(tag: str) -> str:
    """'{namespace}name' as the prefix:name feeds use ('itunes:image'), plain names as they are."""
    for prefix, namespace in (("itunes", ITUNES), ("podcast", PODCAST), ("content", CONTENT)):
        if tag.startswith(f"{{{namespace}}}"):
            return f"{prefix}:{tag.rsplit('}', 1)[-1]}"
    return tag


def _host_report_order(where: str) -> int:
    return 0 if where == "channel/atom:link" else 1 if where.startswith("channel/") else 2


# The form feeds (and acbatch) write: "Mon, 01 Jan 2024 09:00:00 +0000".
_PLAIN_RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LEADING_WEEKDAY = re.compile(r"^\s*([A-Za-z]{3})\s*,")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_ITUNES_ALIAS_PREFIX = "{http://www.itunes.com/DTDs/"
_ITUNES_PREFIX = f"{{{ITUNES}}}"
_CONTENT_ENCODED = f"{{{CONTENT}}}encoded"
_ITUNES_DURATION = f"{_ITUNES_PREFIX}duration"
_ITUNES_EXPLICIT = f"{_ITUNES_PREFIX}explicit"
_ITUNES_EPISODE_TYPE = f"{_ITUNES_PREFIX}episodeType"
_ITUNES_IMAGE = f"{_ITUNES_PREFIX}image"
_NUMBERED = (
    (f"{_ITUNES_PREFIX}episode", "item/itunes:episode"),
    (f"{_ITUNES_PREFIX}season", "item/itunes:season"),
)
# An enclosure path below the base URL with nothing to unquote or normalise: plain parts
# (none of them "." or ".." or empty) joined by single slashes.
_PLAIN_RELATIVE = re.compile(r"(?:[A-Za-z0-9_~-][A-Za-z0-9_.~-]*/)*[A-Za-z0-9_~-][A-Za-z0-9_.~-]*")
_CHAPTERS = f"{{{PODCAST}}}chapters"
_LINKED_FILES = (
    (f"{{{PODCAST}}}transcript", "item/podcast:transcript"),
    (_CHAPTERS, "item/podcast:chapters"),
)
_TITLES = (("title", "item/title"), (f"{_ITUNES_PREFIX}title", "item/itunes:title"))
_CHUNK = 1 << 20

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class FeedProblem:
    severity: str
    """'error' (Apple or Podcasting 2.0 would reject it) or 'warning' (recommended)."""
    where: str
    """The element: 'channel/itunes:image', 'item/enclosure'..."""
    message: str
    item_title: str | None = None
    item_guid: str | None = None
    item_position: int | None = None
    """1-based position of the item in the feed."""

    @property
    def in_item(self) -> bool:
        return self.item_position is not None

    def __str__(self) -> str:
        """'error: item/guid (item "Title", guid g-1): missing' - one line, severity first."""
        text = f"{self.severity}: {self.where}"
        if self.in_item:
            text += f' (item "{self.item_title or ""}", guid {self.item_guid or "-"})'
        return f"{text}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "where": self.where,
            "message": self.message,
            "item_title": self.item_title,
            "item_guid": self.item_guid,
            "item_position": self.item_position,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeedProblem:
        return cls(
            severity=str(raw["severity"]),
            where=str(raw["where"]),
            message=str(raw["message"]),
            item_title=raw.get("item_title"),
            item_guid=raw.get("item_guid"),
            item_position=raw.get("item_position"),
        )


class UnsafeXMLError(ValueError):
    """The document declares a DOCTYPE or entities, which feeds never need."""


class _RootReached(Exception):
    """The prolog guard saw the root element start: no DOCTYPE can follow."""


class _PrologGuard:
    """Parser target that refuses a DOCTYPE and stops at the root element's start tag.

    Entities (internal or external) can only be declared inside a DOCTYPE, and a DOCTYPE can
    only come before the root element, so a prolog without one rules out entity-expansion and
    external-entity attacks for the whole document.
    """

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise UnsafeXMLError("DOCTYPE declarations are not allowed in a feed")

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        raise _RootReached


class _Message(NamedTuple):
    severity: str
    where: str
    message: str


class _LocalFile(NamedTuple):
    """An enclosure to compare with the file beside the feed, once the base URL is known."""

    url: str
    length: int


class _ItemFindings(NamedTuple):
    title: str
    guid: str
    findings: list[_Message | _LocalFile]
    """Every finding after the title and guid checks, in check order."""


class FeedChecker:
    """Checks a feed fed in chunks of bytes: feed() each chunk, then close() for the findings.

    With `local_root` (the folder the feed is served from), enclosures under `base_url` (by
    default the folder of the feed's atom:link rel=self) must exist there with their exact size.
    `non_public`: the severity for URLs on hosts no directory can reach (localhost, private
    addresses), or None not to judge hosts. `html_titles`: the severity for HTML in a title
    (render, which publishes text as written, only warns). `artwork`: gets each distinct
    artwork URL's bytes (at most MAX_ARTWORK_CHECKS) to check the image itself, or None to
    check only the URLs.
    """

    def __init__(
        self,
        *,
        local_root: Path | None = None,
        base_url: str | None = None,
        non_public: str | None = None,
        artwork: ArtworkLoader | None = None,
        html_titles: str = ERROR,
    ) -> None:
        self.local_root = local_root
        self.base_url = base_url
        self.non_public = non_public
        self.html_titles = html_titles
        self.artwork = artwork
        self._artwork_urls: dict[str, str] = {}
        self._non_public_urls: dict[str, list[tuple[str, str, str]]] = {}
        """Host (and port) -> (where, URL, why not public) for each URL on it."""
        self._self_base: str | None = None
        self._root = os.path.abspath(local_root) if local_root is not None else ""
        self._root_prefix = self._root.rstrip(os.sep) + os.sep
        self._guard: ET.XMLParser | None = ET.XMLParser(target=_PrologGuard())
        self._prolog: list[bytes] = []
        self._parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("end",))
        self._items: dict[int, _ItemFindings] = {}
        self._last: ET.Element | None = None
        self._fatal: FeedProblem | None = None
        self.problems: list[FeedProblem] = []

    def feed(self, data: bytes) -> None:
        if self._fatal is not None or not data:
            return
        if self._guard is not None:
            self._prolog.append(data)
            try:
                self._guard.feed(data)
                return
            except UnsafeXMLError as exc:
                self._fatal = FeedProblem(ERROR, "document", str(exc))
                return
            except (_RootReached, ET.ParseError, LookupError):
                # Root reached, or malformed: the main parser reports the latter exactly.
                self._guard = None
            data = b"".join(self._prolog)
            self._prolog = []
        try:
            self._parser.feed(data)
            self._drain()
        except ET.ParseError as exc:
            self._fatal = FeedProblem(ERROR, "document", f"not well-formed XML: {exc}")
        except LookupError as exc:  # the XML declaration names an encoding Python lacks
            self._fatal = FeedProblem(ERROR, "document", f"cannot be decoded: {exc}")

    def close(self) -> list[FeedProblem]:
        """Every problem in the document fed so far (the checker cannot be fed again)."""
        if self._fatal is None and self._guard is not None and self._prolog:
            self._guard = None
            prolog, self._prolog = b"".join(self._prolog), []
            self.feed(prolog)
        if self._fatal is None:
            try:
                self._parser.close()
                self._drain()
            except ET.ParseError as exc:
                self._fatal = FeedProblem(ERROR, "document", f"not well-formed XML: {exc}")
        if self._fatal is not None:
            return [self._fatal]
        if self._last is not None:
            self._check_document(self._last)
            self._report_non_public_hosts()
            if self.artwork is not None:
                self._check_artwork_files(self.artwork)
        return self.problems

    def _report_non_public_hosts(self) -> None:
        """One finding per non-public host: its most telling URL (the feed's own first, then
        the channel's, then the items'), and how many more there are."""
        severity = self.non_public or ERROR
        for host, found in self._non_public_urls.items():
            where, url, reason = min(found, key=lambda f: _host_report_order(f[0]))
            message = f"'{url}' is not public ({reason}); directories and apps cannot fetch it"
            more = len(found) - 1
            if more:
                message += f" (nor {more} more URL{'s' if more > 1 else ''} on {host})"
            self.add(severity, where, message)

    def _check_artwork_files(self, load: ArtworkLoader) -> None:
        from acbatch.publish.artwork import artwork_findings

        for number, (url, where) in enumerate(self._artwork_urls.items()):
            if number == MAX_ARTWORK_CHECKS:
                self.add(WARNING, where, f"only the first {number} artwork files were checked")
                break
            try:
                data = load(url, self._self_base)
            except OSError as exc:
                self.add(WARNING, where, f"'{url}' could not be fetched to check it ({exc})")
                continue
            if data is None:
                continue
            name = unquote(url.split("?", 1)[0].split("#", 1)[0]).rsplit("/", 1)[-1]
            for finding in artwork_findings(data, name):
                self.add(finding.severity, where, f"'{url}' {finding.message}")

    def _check_url_host(self, url: str, where: str) -> None:
        """Note a URL on a host no directory can reach (when hosts are judged); they are
        reported per host once the whole feed is read (see _report_non_public_hosts)."""
        if self.non_public is None or not url:
            return
        reason = non_public_reason(url)
        if reason is None:
            return
        try:
            host = urlsplit(url).netloc.lower()
        except ValueError:
            host = url
        self._non_public_urls.setdefault(host, []).append((where, url, reason))

    def _check_repeats(self, parent: ET.Element, singletons: frozenset[str], where: str) -> None:
        for tag in _repeated(parent, singletons):
            self.add(ERROR, f"{where}/{_pretty_tag(tag)}", "appears more than once")

    def _check_artwork_url(self, url: str, where: str) -> _Message | None:
        """An artwork URL that does not name a JPEG or PNG; remembered for the file check.

        The finding depends on the URL alone (render caches each item's findings by its bytes).
        """
        if self.artwork is not None and (
            url not in self._artwork_urls or where.startswith("channel/")
        ):
            self._artwork_urls[url] = where  # the show's artwork is named as such
        if names_artwork_file(url):
            return None
        return _Message(ERROR, where, f"'{url}' does not name a JPEG or PNG file (.jpg or .png)")

    def _drain(self) -> None:
        element = self._last
        items = self._items
        # typeshed types the events loosely; an "end" event (the only kind asked for) carries
        # its element.
        for _event, found in self._parser.read_events():  # type: ignore[misc]
            if not isinstance(found, ET.Element):
                continue
            element = found
            if element.tag == "item":
                items[id(element)] = self._check_item(element)
                # Only the item's findings are needed from here on: free its subtree.
                element.clear()
        self._last = element

    def add(
        self,
        severity: str,
        where: str,
        message: str,
        item: tuple[str, str | None, int] | None = None,
    ) -> None:
        title, guid, position = item if item else (None, None, None)
        self.problems.append(FeedProblem(severity, where, message, title, guid, position))

    # -- document and channel -------------------------------------------------------------

    def _check_document(self, root: ET.Element) -> None:
        if root.tag != "rss":
            self.add(ERROR, "rss", f"the root element is <{_pretty(root.tag)}>, not <rss>")
            return
        if root.get("version") != "2.0":
            self.add(ERROR, "rss@version", f"'{root.get('version', '')}' is not 2.0")
        channel = root.find("channel")
        if channel is None:
            self.add(ERROR, "channel", "missing")
            return
        self._self_base = _self_folder(channel)
        if self.local_root is not None and self.base_url is None:
            self.base_url = self._self_base
        self.check_channel(channel)
        items = channel.findall("item")
        if not items:
            self.add(WARNING, "channel/item", "the feed has no episodes yet")
        seen_guids: dict[str, int] = {}
        for position, item in enumerate(items, start=1):
            self._report_item(self._items[id(item)], position, seen_guids)

    def check_channel(self, channel: ET.Element) -> None:
        where = "channel"
        title = _text(channel.find("title"))
        if not title:
            self.add(ERROR, f"{where}/title", "missing or empty")
        elif _HTML_IN_TEXT.search(title):
            message = f"'{title}' contains HTML; a title is plain text"
            self.add(self.html_titles, f"{where}/title", message)
        self._check_repeats(channel, _CHANNEL_SINGLETONS, where)
        for place, message in _element_findings(channel, "channel"):
            self.add(ERROR, place, message)
        for name in ("lastBuildDate", "pubDate"):
            value = _text(channel.find(name))
            problem = _pub_date_problem(value) if value else None
            if problem:
                self.add(ERROR, f"{where}/{name}", f"'{value}' {problem}")
        ttl = _text(channel.find("ttl"))
        if ttl and _positive_int(ttl) is None:
            self.add(ERROR, f"{where}/ttl", f"'{ttl}' is not a number of minutes")
        rss_image = channel.find("image")
        if rss_image is not None:
            for part in ("url", "title", "link"):
                if not _text(rss_image.find(part)):
                    self.add(ERROR, f"{where}/image", f"has no {part}")
        description = _text(channel.find("description"))
        if not description:
            self.add(ERROR, f"{where}/description", "missing or empty")
        elif len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
            size = len(description.encode("utf-8"))
            self.add(
                ERROR,
                f"{where}/description",
                f"{size} bytes; Apple allows at most {MAX_DESCRIPTION_BYTES}",
            )
        language = _text(channel.find("language"))
        if not language:
            self.add(ERROR, f"{where}/language", "missing")
        elif not _LANGUAGE.match(language) or not is_iso_639(language.split("-", 1)[0]):
            self.add(
                ERROR,
                f"{where}/language",
                f"'{language}' is not a language code (ISO 639, like en or en-US)",
            )
        link = _text(channel.find("link"))
        if not link:
            self.add(ERROR, f"{where}/link", "missing (the show's website)")
        elif not _is_http_url(link):
            self.add(ERROR, f"{where}/link", f"'{link}' is not an http(s) URL")
        else:
            self._check_url_host(link, f"{where}/link")

        image = _itunes(channel, "image")
        href = image.get("href", "").strip() if image is not None else ""
        if not href:
            self.add(ERROR, f"{where}/itunes:image", "missing (Apple requires show artwork)")
        elif not _is_http_url(href):
            self.add(ERROR, f"{where}/itunes:image", f"href '{href}' is not an http(s) URL")
        else:
            finding = self._check_artwork_url(href, f"{where}/itunes:image")
            if finding is not None:
                self.add(*finding)
            self._check_url_host(href, f"{where}/itunes:image")
        image_url = _text(channel.find("image/url"))
        if image_url:
            if not _is_http_url(image_url):
                self.add(ERROR, f"{where}/image/url", f"'{image_url}' is not an http(s) URL")
            else:
                if not names_artwork_file(image_url):
                    message = f"'{image_url}' does not name a JPEG or PNG file (.jpg or .png)"
                    self.add(ERROR, f"{where}/image/url", message)
                self._check_url_host(image_url, f"{where}/image/url")
        new_feed_url = _text(_itunes(channel, "new-feed-url"))
        if new_feed_url:
            if not _is_http_url(new_feed_url):
                message = f"'{new_feed_url}' is not an http(s) URL"
                self.add(ERROR, f"{where}/itunes:new-feed-url", message)
            else:
                self._check_url_host(new_feed_url, f"{where}/itunes:new-feed-url")

        self.check_categories(channel)
        explicit = _text(_itunes(channel, "explicit"))
        if not explicit:
            self.add(ERROR, f"{where}/itunes:explicit", "missing (true or false)")
        else:
            finding = _explicit_finding(explicit, f"{where}/itunes:explicit")
            if finding is not None:
                self.add(*finding)

        if not _text(_itunes(channel, "author")):
            self.add(WARNING, f"{where}/itunes:author", "missing")
        owner = _itunes(channel, "owner")
        email = _text(_itunes(owner, "email")) if owner is not None else ""
        if owner is None:
            self.add(WARNING, f"{where}/itunes:owner", "missing owner email (Apple recommends it)")
        elif not email:
            self.add(ERROR, f"{where}/itunes:owner", "has no itunes:email")
        elif not _EMAIL.match(email):
            self.add(ERROR, f"{where}/itunes:owner/itunes:email", f"'{email}' is not an email")
        show_type = _text(_itunes(channel, "type"))
        if show_type and show_type not in SHOW_TYPES:
            self.add(ERROR, f"{where}/itunes:type", f"'{show_type}' is not episodic or serial")

        self_links = [
            link for link in channel.findall(f"{{{ATOM}}}link") if link.get("rel") == "self"
        ]
        if not self_links:
            self.add(WARNING, f"{where}/atom:link", 'no rel="self" link to the feed\'s own URL')
        elif not _is_http_url(self_links[0].get("href", "")):
            self.add(ERROR, f"{where}/atom:link", 'rel="self" href is not an http(s) URL')
        else:
            self._check_url_host(self_links[0].get("href", "").strip(), f"{where}/atom:link")
        self.check_podcast_channel(channel)

    def check_categories(self, channel: ET.Element) -> None:
        where = "channel/itunes:category"
        categories = [c for c in channel if _is_itunes(c.tag, "category")]
        if not categories:
            self.add(ERROR, where, "missing (Apple requires at least one category)")
        for category in categories:
            name = category.get("text", "")
            subs = [c for c in category if _is_itunes(c.tag, "category")]
            if name not in APPLE_CATEGORIES:
                self.add(ERROR, where, f"'{name}' is not an Apple Podcasts category")
                continue
            for sub in subs:
                sub_name = sub.get("text", "")
                if sub_name not in APPLE_CATEGORIES[name]:
                    self.add(
                        ERROR,
                        where,
                        f"'{sub_name}' is not a subcategory of '{name}'",
                    )

    def check_podcast_channel(self, channel: ET.Element) -> None:
        guid_element = channel.find(f"{{{PODCAST}}}guid")
        if guid_element is None:
            self.add(WARNING, "channel/podcast:guid", "missing (Podcasting 2.0 recommends it)")
        else:
            value = _text(guid_element)
            try:
                parsed = uuid.UUID(value)
            except ValueError:
                self.add(ERROR, "channel/podcast:guid", f"'{value}' is not a UUID")
            else:
                if parsed.version != 5:
                    self.add(
                        ERROR,
                        "channel/podcast:guid",
                        f"'{value}' is a version {parsed.version} UUID; it must be a UUIDv5",
                    )
        locked = channel.find(f"{{{PODCAST}}}locked")
        if locked is not None:
            value = _text(locked).lower()
            if value not in ("yes", "no"):
                self.add(ERROR, "channel/podcast:locked", f"'{value}' is not yes or no")
            owner = locked.get("owner")
            if owner is not None and not _EMAIL.match(owner.strip()):
                self.add(WARNING, "channel/podcast:locked", f"owner '{owner}' is not an email")
        for level, where, message in _podcast_series_findings(channel, "channel"):
            self.add(level, where, message)

    # -- items ----------------------------------------------------------------------------

    def _report_item(self, item: _ItemFindings, position: int, seen: dict[str, int]) -> None:
        title, guid = item.title, item.guid
        ref = (title or f"#{position}", guid or None, position)
        if not title:
            self.add(ERROR, "item/title", "missing or empty", ref)
        if not guid:
            self.add(ERROR, "item/guid", "missing", ref)
        elif guid in seen:
            self.add(ERROR, "item/guid", f"not unique (also item #{seen[guid]})", ref)
        else:
            seen[guid] = position
        for finding in item.findings:
            if isinstance(finding, _LocalFile):
                local = self._local_file_finding(finding.url, finding.length)
                if local is not None:
                    self.add(*local, ref)
            else:
                self.add(*finding, ref)

    def _check_item(self, item: ET.Element) -> _ItemFindings:
        """The item's findings, position-free (its title, guid and place are settled later).

        Runs once per item of feeds with thousands of them: values are looked up once, in a
        dict of the first child's text per tag, rather than through helper calls.
        """
        children = _first_children(item)
        text = {tag: (child.text or "").strip() for tag, child in children.items()}
        get = text.get
        found: list[_Message | _LocalFile] = []
        add = found.append
        if len(item) != len(children):  # some tag repeats: fine for transcripts, not for these
            for tag in _repeated(item, _ITEM_SINGLETONS):
                add(_Message(ERROR, f"item/{_pretty_tag(tag)}", "appears more than once"))
        for place, message in _element_findings(item, "item"):
            add(_Message(ERROR, place, message))
        self._check_enclosure(children.get("enclosure"), found)
        link = get("link", "")
        if link and not _HTTP_URL.match(link):
            add(_Message(ERROR, "item/link", f"'{link}' is not an http(s) URL"))
        guid_element = children.get("guid")
        if (
            guid_element is not None
            and guid_element.get("isPermaLink", "true").strip().lower() == "true"
            and get("guid")
            and not _HTTP_URL.match(get("guid", ""))
        ):
            message = f"'{get('guid')}' is a permalink (isPermaLink is true) but not a URL"
            add(_Message(ERROR, "item/guid", message))
        pub_date = get("pubDate", "")
        if not pub_date:
            add(_Message(ERROR, "item/pubDate", "missing"))
        else:
            problem = _pub_date_problem(pub_date)
            if problem:
                add(_Message(ERROR, "item/pubDate", f"'{pub_date}' {problem}"))
        description = get("description", "")
        if not description and not get(_CONTENT_ENCODED):
            add(_Message(WARNING, "item/description", "missing"))
        elif len(description) > MAX_DESCRIPTION_BYTES // 4 and (
            len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES
        ):
            add(_Message(WARNING, "item/description", "longer than 4000 bytes"))
        duration = get(_ITUNES_DURATION, "")
        if not duration:
            add(_Message(WARNING, "item/itunes:duration", "missing"))
        elif not _DURATION.match(duration):
            message = f"'{duration}' is not seconds or H:MM:SS"
            add(_Message(ERROR, "item/itunes:duration", message))
        explicit = get(_ITUNES_EXPLICIT, "")
        if explicit and explicit != "false" and explicit != "true":
            finding = _explicit_finding(explicit, "item/itunes:explicit")
            if finding is not None:
                add(finding)
        episode_type = get(_ITUNES_EPISODE_TYPE, "")
        if episode_type and episode_type not in EPISODE_TYPES:
            add(_Message(ERROR, "item/itunes:episodeType", f"'{episode_type}' is not valid"))
        for tag, where in _NUMBERED:
            value = get(tag, "")
            if value and _positive_int(value) is None:
                add(_Message(ERROR, where, f"'{value}' is not a positive integer"))
        image = children.get(_ITUNES_IMAGE)
        if image is not None:
            href = image.get("href", "").strip()
            if not _HTTP_URL.match(href):
                add(_Message(ERROR, "item/itunes:image", "href is not an http(s) URL"))
            else:
                finding = self._check_artwork_url(href, "item/itunes:image")
                if finding is not None:
                    add(finding)
                self._check_url_host(href, "item/itunes:image")
        for tag, where in _LINKED_FILES:
            if tag in children:
                for element in _all_children(item, tag):
                    url = element.get("url", "").strip()
                    if not url:
                        add(_Message(ERROR, where, "url is missing"))
                    elif not _HTTP_URL.match(url):
                        add(_Message(ERROR, where, f"url '{url}' is not an http(s) URL"))
                    else:
                        self._check_url_host(url, where)
                    media_type = element.get("type", "").strip()
                    if not media_type:
                        add(_Message(ERROR, where, "type is missing"))
                    elif tag == _CHAPTERS and media_type != CHAPTERS_TYPE:
                        message = f"type '{media_type}' must be {CHAPTERS_TYPE}"
                        add(_Message(ERROR, where, message))
        if _PODCAST_PREFIX + "person" in children or _PODCAST_PREFIX + "soundbite" in children:
            for level, where, message in _podcast_series_findings(item, "item"):
                add(_Message(level, where, message))
        for tag, where in _TITLES:
            value = get(tag, "")
            if ("<" in value or "&" in value) and _HTML_IN_TEXT.search(value):
                message = f"'{value}' contains HTML; a title is plain text"
                add(_Message(self.html_titles, where, message))
        if self.non_public is not None:
            link = get("link", "")
            if link and _HTTP_URL.match(link):
                self._check_url_host(link, "item/link")
        return _ItemFindings(get("title", ""), get("guid", ""), found)

    def _check_enclosure(
        self, enclosure: ET.Element | None, found: list[_Message | _LocalFile]
    ) -> None:
        where = "item/enclosure"
        if enclosure is None:
            found.append(_Message(ERROR, where, "missing (Apple requires the audio file)"))
            return
        url = enclosure.get("url", "").strip()
        length = enclosure.get("length", "").strip()
        media_type = enclosure.get("type", "").strip()
        if not url:
            found.append(_Message(ERROR, where, "url is missing"))
        elif not _HTTP_URL.match(url):
            found.append(_Message(ERROR, where, f"url '{url}' is not an http(s) URL"))
        elif self.non_public is not None:
            self._check_url_host(url, where)
        if not length:
            found.append(_Message(ERROR, where, "length is missing"))
        elif _positive_int(length) is None:
            message = f"length '{length}' is not a positive number of bytes"
            found.append(_Message(ERROR, where, message))
        if not media_type:
            found.append(_Message(ERROR, where, "type is missing"))
        elif not _MIME_TYPE.match(media_type):
            found.append(_Message(ERROR, where, f"type '{media_type}' is not a media type"))
        elif media_type not in AUDIO_TYPES:
            message = f"type '{media_type}' is not one Apple supports"
            found.append(_Message(WARNING, where, message))
        if url and length.isascii() and length.isdigit() and self.local_root is not None:
            if self.base_url is None:  # known once the channel's atom:link has been read
                found.append(_LocalFile(url, int(length)))
            else:
                local = self._local_file_finding(url, int(length))
                if local is not None:
                    found.append(local)

    def _local_file_finding(self, url: str, length: int) -> _Message | None:
        """When the feed sits beside its files, the enclosure must exist with that exact size."""
        base_url = self.base_url
        if self.local_root is None or not base_url or not url.startswith(base_url):
            return None
        relative = url[len(base_url) :]
        if _PLAIN_RELATIVE.fullmatch(relative) and os.sep == "/":
            # Nothing to unquote, strip or normalise: the common case, spelled out.
            local = self._root_prefix + relative
        else:
            relative = unquote(_QUERY_OR_FRAGMENT.split(relative, 1)[0])
            local = os.path.normpath(os.path.join(self._root, relative))
            if not local.startswith(self._root_prefix):
                return None
        try:
            size = os.stat(local).st_size
        except OSError:
            return _Message(ERROR, "item/enclosure", f"the file {local} does not exist")
        if size != length:
            message = f"length {length} but the file has {size} bytes"
            return _Message(ERROR, "item/enclosure", message)
        return None


def _positive_int(text: str) -> int | None:
    """The number `text` spells in ASCII digits when it is above zero, else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number > 0 else None


def _explicit_finding(text: str, where: str) -> _Message | None:
    """itunes:explicit must be true or false (the old yes, no and clean no longer validate)."""
    value = text.lower()
    if not value or value in ("true", "false"):
        return None
    if value in ("yes", "no", "clean"):
        message = f"'{value}' is an old spelling; Apple and the W3C validator need true or false"
        return _Message(ERROR, where, message)
    return _Message(ERROR, where, f"'{value}' is not true or false")


def _pub_date_problem(value: str) -> str | None:
    """Why `value` is not an RFC 2822 date with a time zone, or None when it is one."""
    plain = _PLAIN_RFC2822.match(value)
    if plain is not None:
        weekday, day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = (
            plain.groups()
        )
        offset = int(zone_hours) * 60 + int(zone_minutes)
        # '-0000' means "zone unknown"; anything odd is left to the full parser below.
        if offset < 24 * 60 and not (sign == "-" and offset == 0):
            try:
                moment = datetime(
                    int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second)
                )
            except ValueError:
                pass
            else:
                if _WEEKDAYS[moment.weekday()] != weekday:
                    return f"names the wrong day of the week ({_WEEKDAYS[moment.weekday()]})"
                return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return "is not an RFC 2822 date"
    if parsed is None:
        return "is not an RFC 2822 date"
    if parsed.tzinfo is None:
        return "has no time zone"
    named = _LEADING_WEEKDAY.match(value)
    actual = _WEEKDAYS[parsed.weekday()]
    if named is not None and named.group(1).capitalize() != actual:
        return f"names the wrong day of the week ({actual})"
    return None


_PODCAST_PREFIX = f"{{{PODCAST}}}"
PODCAST_MEDIUMS = frozenset(
    [
        *(
            name + suffix
            for name in (
                "podcast",
                "music",
                "video",
                "film",
                "audiobook",
                "newsletter",
                "blog",
                "publisher",
                "course",
            )
            for suffix in ("", "L")
        ),
        "mixed",
    ]
)
"""podcast:medium's values (the namespace's list, with the list variants)."""
_PODCAST_SINGLETONS = ("medium", "license")


def _seconds_value(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


def _podcast_series_findings(parent: ET.Element, level: str) -> Iterator[tuple[str, str, str]]:
    """(severity, where, message) for the Podcasting 2.0 series tags of a channel or an item:
    podcast:person, podcast:soundbite, podcast:trailer, podcast:funding, podcast:license and
    podcast:medium, by the namespace's attribute rules."""
    for element in parent:
        tag = element.tag
        if not isinstance(tag, str) or not tag.startswith(_PODCAST_PREFIX):
            continue
        name = tag[len(_PODCAST_PREFIX) :]
        where = f"{level}/podcast:{name}"
        text = (element.text or "").strip()
        if name in ("person", "funding", "trailer", "soundbite") and len(text) > (
            PODCAST_TEXT_LIMIT
        ):
            yield WARNING, where, f"{len(text)} characters; aggregators cut it at 128"
        if name == "person":
            if not text:
                yield ERROR, where, "the person's name is empty"
            image = element.get("img")
            if image is not None and not _HTTP_URL.match(image.strip()):
                yield ERROR, where, f"img '{image}' is not an http(s) URL"
        elif name == "soundbite":
            if level != "item":
                yield ERROR, where, "belongs in an item"
            start = _seconds_value(element.get("startTime"))
            duration = _seconds_value(element.get("duration"))
            if start is None:
                yield ERROR, where, "startTime is missing or not a number of seconds"
            if duration is None or duration == 0:
                yield ERROR, where, "duration is missing or not a positive number of seconds"
        elif name in ("funding", "trailer"):
            url = element.get("url", "").strip()
            if not _HTTP_URL.match(url):
                yield (
                    ERROR,
                    where,
                    f"url '{url}' is not an http(s) URL" if url else "url is missing",
                )
            if name == "trailer":
                if level != "channel":
                    yield ERROR, where, "belongs in the channel"
                if not text:
                    yield ERROR, where, "the trailer's title is empty"
                pubdate = element.get("pubdate", "").strip()
                problem = _pub_date_problem(pubdate) if pubdate else "is missing"
                if problem:
                    yield ERROR, where, f"pubdate '{pubdate}' {problem}"
                for number in ("length", "season"):
                    value = element.get(number)
                    if value is not None and _positive_int(value) is None:
                        yield ERROR, where, f"{number} '{value}' is not a positive integer"
        elif name == "license":
            if not text:
                yield ERROR, where, "the license identifier is empty"
            license_url = element.get("url")
            if license_url is not None and not _HTTP_URL.match(license_url.strip()):
                yield ERROR, where, f"url '{license_url}' is not an http(s) URL"
        elif name == "medium" and text not in PODCAST_MEDIUMS:
            yield ERROR, where, f"'{text}' is not a medium of the Podcasting 2.0 list"
    for name in _PODCAST_SINGLETONS:
        if len(parent.findall(_PODCAST_PREFIX + name)) > 1:
            yield ERROR, f"{level}/podcast:{name}", "appears more than once"


def _first_children(element: ET.Element) -> dict[str, ET.Element]:
    """The first child element for each tag (iTunes namespace spellings unified)."""
    # Built in reverse so that the first of several same-tag children wins.
    first = {child.tag: child for child in reversed(element)}
    if any(map(str.startswith, first, repeat(_ITUNES_ALIAS_PREFIX))):
        first = {}
        for child in element:
            first.setdefault(_canonical(child.tag), child)
    return first


def _all_children(element: ET.Element, tag: str) -> list[ET.Element]:
    if tag.startswith(_ITUNES_PREFIX):
        return [child for child in element if _canonical(child.tag) == tag]
    return element.findall(tag)


def _canonical(tag: str) -> str:
    if tag.startswith(_ITUNES_ALIAS_PREFIX):
        return _ITUNES_PREFIX + tag.rsplit("}", 1)[-1]
    return tag


def _text(element: ET.Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def _is_itunes(tag: object, name: str) -> bool:
    return isinstance(tag, str) and any(tag == f"{{{ns}}}{name}" for ns in ITUNES_ALIASES)


def _itunes(parent: ET.Element | None, name: str) -> ET.Element | None:
    if parent is None:
        return None
    for ns in ITUNES_ALIASES:
        found = parent.find(f"{{{ns}}}{name}")
        if found is not None:
            return found
    return None


def _is_http_url(value: str) -> bool:
    return _HTTP_URL.match(value.strip()) is not None


def _pretty(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _self_folder(channel: ET.Element) -> str | None:
    for link in channel.findall(f"{{{ATOM}}}link"):
        href = link.get("href", "")
        if link.get("rel") == "self" and href:
            return href.rsplit("/", 1)[0] + "/"
    return None


def check_feed_chunks(
    chunks: Iterable[bytes],
    *,
    local_root: Path | None = None,
    base_url: str | None = None,
    non_public: str | None = None,
    artwork: ArtworkLoader | None = None,
    html_titles: str = ERROR,
) -> list[FeedProblem]:
    """Every problem in the feed whose bytes are `chunks`; see FeedChecker."""
    checker = FeedChecker(
        local_root=local_root,
        base_url=base_url,
        non_public=non_public,
        artwork=artwork,
        html_titles=html_titles,
    )
    for chunk in chunks:
        checker.feed(chunk)
    return checker.close()


def check_feed(
    data: bytes,
    *,
    local_root: Path | None = None,
    base_url: str | None = None,
    non_public: str | None = None,
    artwork: ArtworkLoader | None = None,
    html_titles: str = ERROR,
) -> list[FeedProblem]:
    """Every problem in the feed `data`.

    With `local_root` (the folder the feed is served from), enclosures under `base_url` (by
    default the folder of the feed's atom:link rel=self) must exist there with their exact size.
    `non_public` and `artwork`: see FeedChecker.
    """
    return check_feed_chunks(
        _slices(data),
        local_root=local_root,
        base_url=base_url,
        non_public=non_public,
        artwork=artwork,
        html_titles=html_titles,
    )


def _slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        yield bytes(view[start : start + _CHUNK])


def check_feed_file(
    path: Path,
    *,
    compare_files: bool = True,
    non_public: str | None = None,
    check_artwork: bool = False,
) -> list[FeedProblem]:
    """Check a feed on disk; with `compare_files`, enclosures must match the files beside it.

    With `check_artwork`, artwork under the folder of the feed's own URL is read from beside
    the feed and checked (other artwork URLs are checked by name only).
    """
    with path.open("rb") as feed:
        chunks = iter(lambda: feed.read(_CHUNK), b"")
        return check_feed_chunks(
            chunks,
            local_root=path.parent if compare_files else None,
            non_public=non_public,
            artwork=LocalArtwork(path) if check_artwork else None,
        )


class LocalArtwork:
    """Artwork URLs under the folder of the feed's own URL, read from beside the feed file."""

    def __init__(self, feed_path: Path) -> None:
        self.folder = feed_path.parent.resolve()

    def __call__(self, url: str, self_folder: str | None) -> bytes | None:
        if not self_folder or not url.startswith(self_folder):
            return None
        relative = unquote(_QUERY_OR_FRAGMENT.split(url[len(self_folder) :], 1)[0])
        local = (self.folder / relative).resolve()
        if not local.is_relative_to(self.folder) or not local.is_file():
            return None
        return local.read_bytes()


class RemoteArtwork:
    """Artwork of a feed fetched from `feed_url`, downloaded for the check.

    The feed is untrusted: artwork on a loopback or private address is only fetched when the
    feed itself came from such an address (a local preview), never on a public feed's say-so.
    """

    def __init__(self, feed_url: str) -> None:
        self.local_feed = non_public_reason(feed_url) is not None

    def __call__(self, url: str, self_folder: str | None) -> bytes | None:
        if not self.local_feed and non_public_reason(url) is not None:
            return None
        return fetch_artwork(url)


def fetch_artwork(url: str, *, timeout: float = 20.0, max_bytes: int = 20 << 20) -> bytes:
    """Download an image for the artwork check (bounded); raises OSError when it cannot."""
    import requests

    from acbatch.project.defaults import api_defaults

    try:
        connect = api_defaults().timeouts.connect
        with requests.get(url, timeout=(connect, timeout), stream=True) as response:
            if response.status_code != 200:
                raise OSError(f"HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise OSError(f"larger than {max_bytes} bytes")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise OSError(exc.__class__.__name__) from exc
    return b"".join(chunks)


def errors(problems: Iterable[FeedProblem]) -> list[FeedProblem]:
    return [p for p in problems if p.severity == ERROR]


FETCH_MAX_BYTES = 50 * 1024 * 1024


def fetch_feed(
    url: str, *, timeout: float | None = None, max_bytes: int = FETCH_MAX_BYTES
) -> bytes:
    """Download a feed over http(s): each request ends within `timeout` seconds from connecting
    to the last byte (a server trickling bytes is cut off), and the body, compressed or
    decoded, may not pass `max_bytes`. `timeout` None: api.timeouts.feed_check's default."""
    import requests

    from acbatch.api.transport import AnswerLimits, AnswerRefused, AnswerTooLarge, BoundedAdapter
    from acbatch.errors import UserError
    from acbatch.project.defaults import api_defaults

    if timeout is None:
        timeout = api_defaults().timeouts.feed_check

    if not _is_http_url(url):
        raise UserError(f"'{url}' is not an http(s) URL")
    adapter = BoundedAdapter(AnswerLimits(total_seconds=timeout, max_bytes=max_bytes))
    with requests.Session() as session:
        session.max_redirects = 5
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            connect = api_defaults().timeouts.connect
            response = session.get(url, timeout=(min(connect, timeout), timeout))
        except AnswerTooLarge:
            raise UserError(f"{url}: the feed is larger than {max_bytes} bytes") from None
        except AnswerRefused as exc:
            raise UserError(f"{url}: {exc}") from None
        except requests.RequestException as exc:
            detail = str(exc) if "limit" in str(exc) else exc.__class__.__name__
            raise UserError(f"{url}: could not fetch the feed ({detail})") from None
    if response.status_code != 200:
        raise UserError(f"{url}: HTTP {response.status_code} {response.reason}")
    return response.content
