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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

from acbatch.publish.categories import APPLE_CATEGORIES

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
_DURATION = re.compile(r"^(\d+|\d+:[0-5]?\d|\d+:[0-5]?\d:[0-5]?\d)(\.\d+)?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+[^\s]*$", re.IGNORECASE)
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The form feeds (and acbatch) write: "Mon, 01 Jan 2024 09:00:00 +0000".
_PLAIN_RFC2822 = re.compile(
    r"^[A-Za-z]{3}, (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)
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
_LINKED_FILES = (
    (f"{{{PODCAST}}}transcript", "item/podcast:transcript"),
    (f"{{{PODCAST}}}chapters", "item/podcast:chapters"),
)
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
    """

    def __init__(self, *, local_root: Path | None = None, base_url: str | None = None) -> None:
        self.local_root = local_root
        self.base_url = base_url
        self._root = os.path.abspath(local_root) if local_root is not None else ""
        self._root_prefix = self._root.rstrip(os.sep) + os.sep
        self._guard: ET.XMLParser | None = ET.XMLParser(target=_PrologGuard())
        self._prolog: list[bytes] = []
        self._parser = ET.XMLPullParser(events=("end",))
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
        return self.problems

    def _drain(self) -> None:
        element = self._last
        items = self._items
        for _event, element in self._parser.read_events():
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
            self.add(WARNING, "rss@version", "should be 2.0")
        channel = root.find("channel")
        if channel is None:
            self.add(ERROR, "channel", "missing")
            return
        if self.local_root is not None and self.base_url is None:
            self.base_url = _self_folder(channel)
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
        elif not _LANGUAGE.match(language):
            self.add(WARNING, f"{where}/language", f"'{language}' is not an ISO 639 code")
        if not _text(channel.find("link")):
            self.add(WARNING, f"{where}/link", "missing (the show's website)")

        image = _itunes(channel, "image")
        href = image.get("href", "").strip() if image is not None else ""
        if not href:
            self.add(ERROR, f"{where}/itunes:image", "missing (Apple requires show artwork)")
        elif not _is_http_url(href):
            self.add(ERROR, f"{where}/itunes:image", f"href '{href}' is not an http(s) URL")

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
        if not email:
            self.add(WARNING, f"{where}/itunes:owner", "missing owner email (Apple recommends it)")
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
        self._check_enclosure(children.get("enclosure"), found)
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
        if image is not None and not _HTTP_URL.match(image.get("href", "").strip()):
            add(_Message(ERROR, "item/itunes:image", "href is not an http(s) URL"))
        for tag, where in _LINKED_FILES:
            if tag in children:
                for element in _all_children(item, tag):
                    url = element.get("url", "").strip()
                    if not url:
                        add(_Message(ERROR, where, "url is missing"))
                    elif not _HTTP_URL.match(url):
                        add(_Message(ERROR, where, f"url '{url}' is not an http(s) URL"))
                    if not element.get("type", "").strip():
                        add(_Message(ERROR, where, "type is missing"))
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
        if not length:
            found.append(_Message(ERROR, where, "length is missing"))
        elif _positive_int(length) is None:
            message = f"length '{length}' is not a positive number of bytes"
            found.append(_Message(ERROR, where, message))
        if not media_type:
            found.append(_Message(ERROR, where, "type is missing"))
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
    """itunes:explicit must be true or false (yes, no and clean are deprecated spellings)."""
    value = text.lower()
    if not value or value in ("true", "false"):
        return None
    if value in ("yes", "no", "clean"):
        return _Message(WARNING, where, f"'{value}' is deprecated; use true or false")
    return _Message(ERROR, where, f"'{value}' is not true or false")


def _pub_date_problem(value: str) -> str | None:
    """Why `value` is not an RFC 2822 date with a time zone, or None when it is one."""
    plain = _PLAIN_RFC2822.match(value)
    if plain is not None:
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = plain.groups()
        offset = int(zone_hours) * 60 + int(zone_minutes)
        # '-0000' means "zone unknown"; anything odd is left to the full parser below.
        if offset < 24 * 60 and not (sign == "-" and offset == 0):
            try:
                datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
            except ValueError:
                pass
            else:
                return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return "is not an RFC 2822 date"
    if parsed is None:
        return "is not an RFC 2822 date"
    if parsed.tzinfo is None:
        return "has no time zone"
    return None


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


class FeedItemsChecker:
    """Checks the feed head + (item + separator)* + tail, the items added one at a time.

    Gives exactly check_feed()'s findings for those bytes, faster: the channel (head and tail)
    is checked once, then the items are parsed in batches, each inside the same head and tail,
    with no parser event per element. Each batch must add just its items to the channel, where
    a placeholder put between head and tail sits; a head or tail with items of its own, a batch
    that does not parse or changes anything else, and the whole document is checked as one
    stream instead (with exact positions in any error message).
    """

    _PLACEHOLDER = "acbatch-items-go-here"

    def __init__(
        self,
        head: bytes,
        separator: bytes,
        tail: bytes,
        *,
        local_root: Path | None = None,
        base_url: str | None = None,
        batch_items: int = 64,
    ) -> None:
        self.head, self.separator, self.tail = head, separator, tail
        self.local_root, self.base_url = local_root, base_url
        self.batch_items = batch_items
        self.items: list[bytes] = []
        self._pending: list[bytes] = []
        self._findings: list[_ItemFindings] = []
        self._channel_problems = check_feed(head + tail, local_root=local_root, base_url=base_url)
        self._item_checker = FeedChecker(local_root=local_root, base_url=base_url)
        self._layout = self._channel_layout()

    def _channel_layout(self) -> tuple[int, int, int] | None:
        """(root children, channel children, placeholder index) when batches can be checked."""
        if any(p.where in ("document", "rss", "channel") for p in self._channel_problems):
            return None
        placeholder = f"<{self._PLACEHOLDER}/>".encode()
        root = _parse_plainly(self.head + placeholder + self.tail)
        channel = root.find("channel") if root is not None else None
        if root is None or channel is None:
            return None
        tags = [child.tag for child in channel]
        if tags.count(self._PLACEHOLDER) != 1 or "item" in tags:
            return None
        if sum(1 for _ in root.iter(self._PLACEHOLDER)) != 1:
            return None
        if self.local_root is not None and self.base_url is None:
            self._item_checker.base_url = _self_folder(channel)
        return len(root), len(tags) - 1, tags.index(self._PLACEHOLDER)

    def add(self, item: bytes) -> None:
        self.items.append(item)
        if self._layout is None:
            return
        self._pending.append(item)
        if len(self._pending) >= self.batch_items:
            self._check_batch()

    def _check_batch(self) -> None:
        batch, self._pending = self._pending, []
        layout = self._layout
        if not batch or layout is None:
            return
        root_children, channel_children, start = layout
        separator = self.separator
        body = b"".join([piece for item in batch for piece in (item, separator)])
        root = _parse_plainly(self.head + body + self.tail)
        channel = root.find("channel") if root is not None else None
        if (
            root is None
            or channel is None
            or len(root) != root_children
            or len(channel) != channel_children + len(batch)
            or any(element.tag != "item" for element in channel[start : start + len(batch)])
        ):
            self._layout = None  # not the layout the batches rely on: check the whole feed
            return
        check_item = self._item_checker._check_item
        self._findings += [check_item(element) for element in channel[start : start + len(batch)]]

    def close(self) -> list[FeedProblem]:
        self._check_batch()
        if self._layout is None:
            return check_feed_chunks(
                self._document(), local_root=self.local_root, base_url=self.base_url
            )
        checker = self._item_checker
        checker.problems = [
            p for p in self._channel_problems if self._findings == [] or p.where != "channel/item"
        ]
        seen: dict[str, int] = {}
        for position, findings in enumerate(self._findings, start=1):
            checker._report_item(findings, position, seen)
        return checker.problems

    def _document(self) -> Iterator[bytes]:
        yield self.head
        separator = self.separator
        items = self.items
        for start in range(0, len(items), self.batch_items):
            batch = items[start : start + self.batch_items]
            yield b"".join([piece for item in batch for piece in (item, separator)])
        yield self.tail


def _parse_plainly(document: bytes) -> ET.Element | None:
    """The document's root, or None when it is not well-formed (no DOCTYPE check here)."""
    parser = ET.XMLParser(target=ET.TreeBuilder())
    try:
        parser.feed(document)
        root: ET.Element = parser.close()
    except (ET.ParseError, LookupError):
        return None
    return root


def check_feed_chunks(
    chunks: Iterable[bytes], *, local_root: Path | None = None, base_url: str | None = None
) -> list[FeedProblem]:
    """Every problem in the feed whose bytes are `chunks`; see FeedChecker."""
    checker = FeedChecker(local_root=local_root, base_url=base_url)
    for chunk in chunks:
        checker.feed(chunk)
    return checker.close()


def check_feed(
    data: bytes, *, local_root: Path | None = None, base_url: str | None = None
) -> list[FeedProblem]:
    """Every problem in the feed `data`.

    With `local_root` (the folder the feed is served from), enclosures under `base_url` (by
    default the folder of the feed's atom:link rel=self) must exist there with their exact size.
    """
    return check_feed_chunks(_slices(data), local_root=local_root, base_url=base_url)


def _slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        yield bytes(view[start : start + _CHUNK])


def check_feed_file(path: Path, *, compare_files: bool = True) -> list[FeedProblem]:
    """Check a feed on disk; with `compare_files`, enclosures must match the files beside it."""
    with path.open("rb") as feed:
        chunks = iter(lambda: feed.read(_CHUNK), b"")
        return check_feed_chunks(chunks, local_root=path.parent if compare_files else None)


def errors(problems: Iterable[FeedProblem]) -> list[FeedProblem]:
    return [p for p in problems if p.severity == ERROR]


FETCH_SECONDS = 30.0
"""Wall-clock limit on fetching a feed for `feed check`, per request (redirects: at most 5)."""
FETCH_MAX_BYTES = 50 * 1024 * 1024


def fetch_feed(
    url: str, *, timeout: float = FETCH_SECONDS, max_bytes: int = FETCH_MAX_BYTES
) -> bytes:
    """Download a feed over http(s): each request ends within `timeout` seconds from connecting
    to the last byte (a server trickling bytes is cut off), and the body, compressed or
    decoded, may not pass `max_bytes`."""
    import requests

    from acbatch.api.transport import AnswerLimits, AnswerRefused, AnswerTooLarge, BoundedAdapter
    from acbatch.errors import UserError

    if not _is_http_url(url):
        raise UserError(f"'{url}' is not an http(s) URL")
    adapter = BoundedAdapter(AnswerLimits(total_seconds=timeout, max_bytes=max_bytes))
    with requests.Session() as session:
        session.max_redirects = 5
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.get(url, timeout=(min(10.0, timeout), timeout))
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
