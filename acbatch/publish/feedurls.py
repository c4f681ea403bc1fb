"""The feed's own URL, its Podcasting 2.0 GUID, and which URLs directories can reach."""

from __future__ import annotations

import ipaddress
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


# Names reserved for local networks and documentation-only use (RFC 2606, 6761, 6762, 8375)
# or commonly used on private networks; no public resolver answers for them.
PRIVATE_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "test",
    "invalid",
    "example",
    "onion",
)


def non_public_reason(url: str) -> str | None:
    """Why no directory could fetch `url` (e.g. 'localhost', 'a private address'), or None.

    Only the host is judged: a public name, or a globally routable IP address, passes.
    """
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return "not a valid URL"
    if not host:
        return "no host name"
    host = host.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback:
            return "a loopback address"
        if address.is_private or address.is_link_local:
            return "a private network address"
        if not address.is_global:
            return "a reserved address"
        return None
    if "." not in host:
        return "localhost" if host == "localhost" else "a host name without a dot"
    for suffix in PRIVATE_SUFFIXES:
        if host == suffix or host.endswith("." + suffix):
            return f"a .{suffix} name, which only resolves on a local network"
    return None
