"""The feed's identity: a podcast:guid set once for the show's life, and where the feed moved.

Podcasting 2.0 says podcast:guid is set once and never changes, whatever the feed's URL. It is
derived from the feed URL the first time the show is published to a public base_url (or taken
from show.guid) and recorded in state/.feed-identity.json; later renders read it from there.
Changing show.base_url afterwards is a move: the guid stays, the old feed URL is remembered
and the feed carries <itunes:new-feed-url> with its new address (serve a 301 redirect from the
old feed URL to the new one as well). Item guids live in each episode's state and never
depend on the URL, so no episode is shown twice after a move.

A sandbox preview on localhost (a base URL no directory can reach) records nothing: its guid
is derived as before, and a recorded identity is only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from acbatch.publish.feedurls import feed_url, non_public_reason, podcast_guid
from acbatch.store import atomic_write_json

IDENTITY_FILE = ".feed-identity.json"
LANGUAGE_IDENTITY_FILE = ".feed-identity.{code}.json"
"""A show published per language has one feed, and one identity, per language."""


def identity_file(language: str | None) -> str:
    """The identity record's name in state/: one per language feed, or the show's one."""
    return LANGUAGE_IDENTITY_FILE.format(code=language) if language else IDENTITY_FILE


IDENTITY_VERSION = 1


@dataclass
class FeedIdentity:
    podcast_guid: str
    feed_url: str
    """The feed URL the show is published at now."""
    previous_feed_urls: list[str] = field(default_factory=list)
    """Where the feed was published before, oldest first."""
    recorded_at: str = ""
    change: str = field(default="", compare=False)
    """What settling it did, in words, when it recorded something ('' otherwise)."""

    @property
    def new_feed_url(self) -> str | None:
        """<itunes:new-feed-url>: the feed's address once it has moved at least once."""
        return self.feed_url if self.previous_feed_urls else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": IDENTITY_VERSION,
            "podcast_guid": self.podcast_guid,
            "feed_url": self.feed_url,
            "previous_feed_urls": list(self.previous_feed_urls),
            "recorded_at": self.recorded_at,
        }


class IdentityFileError(ValueError):
    """state/.feed-identity.json exists but cannot be used."""


def load_identity(state: Path, name: str = IDENTITY_FILE) -> FeedIdentity | None:
    path = state / name
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IdentityFileError(f"{path}: cannot be read ({exc})") from exc
    try:
        guid, url = raw["podcast_guid"], raw["feed_url"]
        previous = raw.get("previous_feed_urls") or []
        if not (isinstance(guid, str) and isinstance(url, str) and isinstance(previous, list)):
            raise TypeError
        return FeedIdentity(
            podcast_guid=guid,
            feed_url=url,
            previous_feed_urls=[str(p) for p in previous],
            recorded_at=str(raw.get("recorded_at") or ""),
        )
    except (KeyError, TypeError) as exc:
        raise IdentityFileError(
            f"{path}: not a feed identity record (expected podcast_guid and feed_url); "
            "restore it from version control, or delete it to derive the guid again"
        ) from exc


def settle_identity(
    state: Path,
    base_url: str,
    configured_guid: str | None,
    now: datetime,
    name: str = IDENTITY_FILE,
    *,
    record: bool = True,
) -> FeedIdentity:
    """The identity this render publishes under, recording it (or a move) when the base URL
    is public. `configured_guid` (show.guid) wins over a recorded one. `name`: the record's
    file in `state` (identity_file). With `record` False, the same identity, nothing written."""
    url = feed_url(base_url)
    public = non_public_reason(url) is None
    recorded = load_identity(state, name)
    if recorded is None:
        identity = FeedIdentity(
            podcast_guid=(configured_guid or podcast_guid(url)).lower(),
            feed_url=url,
            recorded_at=now.isoformat(timespec="seconds"),
        )
        if public and record:
            atomic_write_json(state / name, identity.to_json())
        if public:
            identity.change = (
                f"recorded podcast:guid {identity.podcast_guid} for {url} in "
                f"{state / name} (keep it under version control)"
            )
        return identity
    identity = FeedIdentity(
        podcast_guid=(configured_guid or recorded.podcast_guid).lower(),
        feed_url=recorded.feed_url,
        previous_feed_urls=list(recorded.previous_feed_urls),
        recorded_at=recorded.recorded_at,
    )
    if not public:
        # A local preview of a published show: same guid, no move, nothing recorded.
        return FeedIdentity(identity.podcast_guid, url)
    if url != identity.feed_url:
        moved_from = identity.feed_url
        identity.previous_feed_urls = [
            u for u in identity.previous_feed_urls if u not in (url, moved_from)
        ] + [moved_from]
        identity.feed_url = url
        identity.change = (
            f"the feed moved from {moved_from} to {url}: podcast:guid {identity.podcast_guid} "
            "is kept and the feed carries itunes:new-feed-url (redirect the old URL here too)"
        )
    if identity != recorded and record:
        atomic_write_json(state / name, identity.to_json())
    return identity
