"""Show and episode artwork: remote URLs are referenced, local JPEG/PNG files are published."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from acbatch.publish.errors import ArtworkError
from acbatch.publish.files import same_content, write_atomic
from acbatch.publish.id3 import Artwork
from acbatch.publish.text import join_url, safe_http_url

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@dataclass(frozen=True)
class PublishedImage:
    url: str
    """Absolute URL for the feed."""
    relpath: str | None = None
    """Path under output/ when the image is a local file (for the site and notes)."""
    artwork: Artwork | None = None
    """Bytes and MIME type to embed (APIC) when local."""
    digest: str = ""
    copied: bool = False
    """The local file was (re)copied into output/ by this call."""


def image_mime(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def _is_remote(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def _load_local(path: Path, what: str) -> Artwork:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtworkError(f"{what}: cannot read '{path}' ({exc.strerror or exc})") from exc
    mime = image_mime(data)
    if mime is None:
        raise ArtworkError(f"{what}: '{path}' is not a JPEG or PNG image")
    return Artwork(data=data, mime=mime)


def _remote(value: str, what: str) -> PublishedImage:
    url = safe_http_url(value)
    if url is None:
        raise ArtworkError(f"{what}: '{value}' is not a valid http(s) URL")
    return PublishedImage(url=url, digest=url)


def publish_show_image(
    image: str | None, config_path: Path, output: Path, base_url: str
) -> PublishedImage | None:
    """Resolve show.image; a local file (relative to acbatch.yaml) is copied into output/."""
    if not image:
        return None
    what = f"{config_path}: show.image"
    if _is_remote(image):
        return _remote(image, what)
    source = (config_path.parent / image).resolve()
    artwork = _load_local(source, what)
    target = output / source.name
    copied = target.resolve() != source and not same_content(target, artwork.data)
    if copied:
        write_atomic(target, artwork.data)
    digest = hashlib.sha256(artwork.data).hexdigest()
    return PublishedImage(
        url=join_url(base_url, source.name),
        relpath=source.name,
        artwork=artwork,
        digest=digest,
        copied=copied,
    )


def publish_episode_image(
    image: str | None, episode_id: str, output: Path, base_url: str
) -> PublishedImage | None:
    """Resolve publish.image: an http(s) URL, or a path relative to the output folder."""
    if not image:
        return None
    what = f"episode '{episode_id}': publish.image"
    if _is_remote(image):
        return _remote(image, what)
    output_root = output.resolve()
    source = (output_root / image).resolve()
    if not source.is_relative_to(output_root):
        raise ArtworkError(f"{what}: '{image}' is outside the output folder {output}")
    artwork = _load_local(source, what)
    relpath = source.relative_to(output_root).as_posix()
    digest = hashlib.sha256(artwork.data).hexdigest()
    return PublishedImage(
        url=join_url(base_url, relpath), relpath=relpath, artwork=artwork, digest=digest
    )
