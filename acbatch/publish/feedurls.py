"""The feed's own URL and its Podcasting 2.0 GUID."""

from __future__ import annotations

import posixpath
import re
import uuid
from functools import lru_cache
from urllib.parse import unquote, urlsplit

FEED_FILE = "feed.xml"
SITE_FILE = "index.html"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
ARTWORK_EXTENSIONS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}
"""Apple wants artwork as JPEG or PNG, with the extension saying which."""
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@lru_cache(maxsize=64)
def base_folder_url(base_url: str) -> str:
    """show.base_url as a folder URL ending in '/'."""
    return base_url.strip().rstrip("/") + "/"


def feed_url(base_url: str) -> str:
    return base_folder_url(base_url) + FEED_FILE


def podcast_guid(url: str) -> str:
    """podcast:guid: UUIDv5 of the feed URL without its scheme and trailing slashes."""
    bare = _SCHEME.sub("", url.strip()).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def names_artwork_file(url: str) -> bool:
    """The URL's path ends in .jpg, .jpeg or .png (any case; the query is not looked at)."""
    try:
        path = unquote(urlsplit(url.strip()).path)
    except ValueError:
        return False
    return posixpath.splitext(path.lower())[1] in ARTWORK_EXTENSIONS
