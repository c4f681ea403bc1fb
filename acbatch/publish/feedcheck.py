"""Checking a podcast RSS feed against Apple's requirements and the Podcasting 2.0 rules.

Parsing uses the standard library only. DOCTYPE and ENTITY declarations are refused before the
tree is built, so entity-expansion ("billion laughs") and external-entity tricks cannot work.
"""

from __future__ import annotations

import os
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
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

ERROR = "error"
WARNING = "warning"

_ItemRef = tuple[str | None, str | None, int | None]
"""(title or '#position', guid, position) of the item a problem is in."""


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


class _RefusingTreeBuilder(ET.TreeBuilder):
    """Builds the tree but stops at a DOCTYPE, before any entity could be declared or used."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise UnsafeXMLError("DOCTYPE declarations are not allowed in a feed")


def parse_xml(data: bytes) -> ET.Element:
    """Parse a feed; raises UnsafeXMLError for a DOCTYPE, ET.ParseError if malformed.

    Entities (internal or external) can only be declared inside a DOCTYPE, so refusing it at
    its start rules out entity-expansion and external-entity attacks.
    """
    parser = ET.XMLParser(target=_RefusingTreeBuilder())
    parser.feed(data)
    root: ET.Element = parser.close()
    return root


class _Checker:
    def __init__(self, local_root: Path | None, base_url: str | None) -> None:
        self.problems: list[FeedProblem] = []
        self.local_root = local_root
        self.base_url = base_url
        self._root = os.path.abspath(local_root) if local_root is not None else ""
        self._root_prefix = self._root.rstrip(os.sep) + os.sep

    def add(
        self,
        severity: str,
        where: str,
        message: str,
        item: _ItemRef | None = None,
    ) -> None:
        title, guid, position = item if item else (None, None, None)
        self.problems.append(FeedProblem(severity, where, message, title, guid, position))

    # -- channel --------------------------------------------------------------------------

    def check(self, root: ET.Element) -> None:
        if root.tag != "rss":
            self.add(ERROR, "rss", f"the root element is <{_pretty(root.tag)}>, not <rss>")
            return
        if root.get("version") != "2.0":
            self.add(WARNING, "rss@version", "should be 2.0")
        channel = root.find("channel")
        if channel is None:
            self.add(ERROR, "channel", "missing")
            return
        self.check_channel(channel)
        items = channel.findall("item")
        if not items:
            self.add(WARNING, "channel/item", "the feed has no episodes yet")
        seen_guids: dict[str, int] = {}
        for position, item in enumerate(items, start=1):
            self.check_item(item, position, seen_guids)

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
        self.check_explicit(_itunes(channel, "explicit"), f"{where}/itunes:explicit", None, True)

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

    def check_explicit(
        self,
        element: ET.Element | None,
        where: str,
        item: _ItemRef | None,
        required: bool,
    ) -> None:
        value = _text(element).lower()
        if not value:
            if required:
                self.add(ERROR, where, "missing (true or false)", item)
        elif value in ("yes", "no", "clean"):
            self.add(WARNING, where, f"'{value}' is deprecated; use true or false", item)
        elif value not in ("true", "false"):
            self.add(ERROR, where, f"'{value}' is not true or false", item)

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

    def check_item(self, item: ET.Element, position: int, seen: dict[str, int]) -> None:
        children = _children(item)
        title = _first_text(children, "title")
        guid = _first_text(children, "guid")
        ref = (title or f"#{position}", guid or None, position)
        if not title:
            self.add(ERROR, "item/title", "missing or empty", ref)
        if not guid:
            self.add(ERROR, "item/guid", "missing", ref)
        elif guid in seen:
            self.add(ERROR, "item/guid", f"not unique (also item #{seen[guid]})", ref)
        else:
            seen[guid] = position
        self.check_enclosure(_first(children, "enclosure"), ref)
        self.check_pub_date(_first(children, "pubDate"), ref)
        description = _first_text(children, "description")
        if not description and not _first_text(children, f"{{{CONTENT}}}encoded"):
            self.add(WARNING, "item/description", "missing", ref)
        elif len(description) > MAX_DESCRIPTION_BYTES // 4 and (
            len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES
        ):
            self.add(WARNING, "item/description", "longer than 4000 bytes", ref)
        duration = _first_text(children, f"{{{ITUNES}}}duration")
        if not duration:
            self.add(WARNING, "item/itunes:duration", "missing", ref)
        elif not _DURATION.match(duration):
            self.add(ERROR, "item/itunes:duration", f"'{duration}' is not seconds or H:MM:SS", ref)
        explicit = _first(children, f"{{{ITUNES}}}explicit")
        self.check_explicit(explicit, "item/itunes:explicit", ref, False)
        episode_type = _first_text(children, f"{{{ITUNES}}}episodeType")
        if episode_type and episode_type not in EPISODE_TYPES:
            self.add(ERROR, "item/itunes:episodeType", f"'{episode_type}' is not valid", ref)
        for name in ("episode", "season"):
            value = _first_text(children, f"{{{ITUNES}}}{name}")
            if value and not (value.isdigit() and int(value) > 0):
                self.add(ERROR, f"item/itunes:{name}", f"'{value}' is not a positive integer", ref)
        image = _first(children, f"{{{ITUNES}}}image")
        if image is not None and not _is_http_url(image.get("href", "")):
            self.add(ERROR, "item/itunes:image", "href is not an http(s) URL", ref)
        for element in children.get(f"{{{PODCAST}}}transcript", ()):
            self.check_url_and_type(element, "item/podcast:transcript", ref)
        for element in children.get(f"{{{PODCAST}}}chapters", ()):
            self.check_url_and_type(element, "item/podcast:chapters", ref)

    def check_enclosure(self, enclosure: ET.Element | None, ref: _ItemRef) -> None:
        where = "item/enclosure"
        if enclosure is None:
            self.add(ERROR, where, "missing (Apple requires the audio file)", ref)
            return
        url = enclosure.get("url", "").strip()
        length = enclosure.get("length", "").strip()
        media_type = enclosure.get("type", "").strip()
        if not url:
            self.add(ERROR, where, "url is missing", ref)
        elif not _is_http_url(url):
            self.add(ERROR, where, f"url '{url}' is not an http(s) URL", ref)
        if not length:
            self.add(ERROR, where, "length is missing", ref)
        elif not length.isdigit() or int(length) <= 0:
            self.add(ERROR, where, f"length '{length}' is not a positive number of bytes", ref)
        if not media_type:
            self.add(ERROR, where, "type is missing", ref)
        elif media_type not in AUDIO_TYPES:
            self.add(WARNING, where, f"type '{media_type}' is not one Apple supports", ref)
        if url and length.isdigit():
            self.check_local_file(url, int(length), ref)

    def check_local_file(self, url: str, length: int, ref: _ItemRef) -> None:
        """When the feed sits beside its files, the enclosure must exist with that exact size."""
        if self.local_root is None or not self.base_url or not url.startswith(self.base_url):
            return
        relative = unquote(_QUERY_OR_FRAGMENT.split(url[len(self.base_url) :], 1)[0])
        local = os.path.normpath(os.path.join(self._root, relative))
        if not local.startswith(self._root_prefix):
            return
        try:
            size = os.stat(local).st_size
        except OSError:
            self.add(ERROR, "item/enclosure", f"the file {local} does not exist", ref)
            return
        if size != length:
            self.add(ERROR, "item/enclosure", f"length {length} but the file has {size} bytes", ref)

    def check_pub_date(self, element: ET.Element | None, ref: _ItemRef) -> None:
        value = _text(element)
        if not value:
            self.add(ERROR, "item/pubDate", "missing", ref)
            return
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is None:
            self.add(ERROR, "item/pubDate", f"'{value}' is not an RFC 2822 date", ref)
        elif parsed.tzinfo is None:
            self.add(ERROR, "item/pubDate", f"'{value}' has no time zone", ref)

    def check_url_and_type(self, element: ET.Element, where: str, ref: _ItemRef) -> None:
        url = element.get("url", "").strip()
        if not url:
            self.add(ERROR, where, "url is missing", ref)
        elif not _is_http_url(url):
            self.add(ERROR, where, f"url '{url}' is not an http(s) URL", ref)
        if not element.get("type", "").strip():
            self.add(ERROR, where, "type is missing", ref)


def _children(element: ET.Element) -> dict[str, list[ET.Element]]:
    """Child elements by tag (any iTunes namespace spelling filed under the canonical one)."""
    index: dict[str, list[ET.Element]] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag.startswith("{http://www.itunes.com/DTDs/"):
            tag = f"{{{ITUNES}}}" + tag.rsplit("}", 1)[-1]
        found = index.get(tag)
        if found is None:
            index[tag] = [child]
        else:
            found.append(child)
    return index


def _first(children: dict[str, list[ET.Element]], tag: str) -> ET.Element | None:
    found = children.get(tag)
    return found[0] if found else None


def _first_text(children: dict[str, list[ET.Element]], tag: str) -> str:
    found = children.get(tag)
    if not found or found[0].text is None:
        return ""
    return found[0].text.strip()


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


def _self_folder(root: ET.Element) -> str | None:
    channel = root.find("channel")
    if channel is None:
        return None
    for link in channel.findall(f"{{{ATOM}}}link"):
        href = link.get("href", "")
        if link.get("rel") == "self" and href:
            return href.rsplit("/", 1)[0] + "/"
    return None


def check_feed(
    data: bytes, *, local_root: Path | None = None, base_url: str | None = None
) -> list[FeedProblem]:
    """Every problem in the feed `data`.

    With `local_root` (the folder the feed is served from), enclosures under `base_url` (by
    default the folder of the feed's atom:link rel=self) must exist there with their exact size.
    """
    try:
        root = parse_xml(data)
    except UnsafeXMLError as exc:
        return [FeedProblem(ERROR, "document", str(exc))]
    except ET.ParseError as exc:
        return [FeedProblem(ERROR, "document", f"not well-formed XML: {exc}")]
    if local_root is not None and base_url is None:
        base_url = _self_folder(root)
    checker = _Checker(local_root, base_url)
    checker.check(root)
    return checker.problems


def check_feed_file(path: Path, *, compare_files: bool = True) -> list[FeedProblem]:
    """Check a feed on disk; with `compare_files`, enclosures must match the files beside it."""
    return check_feed(path.read_bytes(), local_root=path.parent if compare_files else None)


def errors(problems: Iterable[FeedProblem]) -> list[FeedProblem]:
    return [p for p in problems if p.severity == ERROR]


def fetch_feed(url: str, *, timeout: float = 30.0, max_bytes: int = 50 * 1024 * 1024) -> bytes:
    """Download a feed over http(s) (bounded in time and size)."""
    import requests

    from acbatch.errors import UserError

    if not _is_http_url(url):
        raise UserError(f"'{url}' is not an http(s) URL")
    try:
        with requests.get(url, timeout=(10.0, timeout), stream=True) as response:
            if response.status_code != 200:
                raise UserError(f"{url}: HTTP {response.status_code} {response.reason}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise UserError(f"{url}: the feed is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise UserError(f"{url}: could not fetch the feed ({exc.__class__.__name__})") from exc
    return b"".join(chunks)
