"""Show and episode artwork: remote URLs are referenced, local JPEG/PNG files are published.

Artwork is checked against Apple's requirements (which every other directory accepts): a JPEG
or PNG file with the matching extension, square, 1400 to 3000 pixels a side, in the RGB colour
space. Only the image header is read (Pillow decodes no pixels), so a huge or hostile file
costs nothing to check.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from acbatch.publish.errors import ArtworkError
from acbatch.publish.feedurls import ARTWORK_EXTENSIONS, names_artwork_file
from acbatch.publish.files import same_content, write_atomic
from acbatch.publish.id3 import Artwork
from acbatch.publish.text import join_url, safe_http_url

_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))

MIN_ARTWORK_PX = 1400
MAX_ARTWORK_PX = 3000
# Pillow modes in the RGB colour space; with an alpha channel they are accepted with a warning.
_RGB_MODES = frozenset({"RGB", "P"})
_RGB_ALPHA_MODES = frozenset({"RGBA", "RGBa", "PA"})
_MODE_NAMES = {
    "CMYK": "CMYK",
    "L": "greyscale",
    "LA": "greyscale",
    "La": "greyscale",
    "1": "black and white",
    "I": "32-bit greyscale",
    "I;16": "16-bit greyscale",
    "I;16B": "16-bit greyscale",
    "I;16L": "16-bit greyscale",
    "F": "floating-point greyscale",
    "LAB": "Lab",
    "HSV": "HSV",
    "YCbCr": "YCbCr",
}


class ArtworkFinding(NamedTuple):
    severity: str
    """'error' (Apple Podcasts refuses the artwork) or 'warning'."""
    message: str


def artwork_findings(data: bytes, name: str = "") -> list[ArtworkFinding]:
    """What Apple Podcasts would refuse (or frown at) in the image file `data`.

    `name` (a file name or URL path) is checked for the extension matching the format.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:
            kind, (width, height), mode = image.format, image.size, image.mode
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return [ArtworkFinding("error", "is not a JPEG or PNG image")]
    found: list[ArtworkFinding] = []
    expected = ARTWORK_EXTENSIONS.get(posixpath.splitext(name.lower())[1]) if name else kind
    if name and expected is None:
        found.append(
            ArtworkFinding("error", f"is a {kind} image but its name does not end in .jpg or .png")
        )
    elif expected != kind:
        found.append(ArtworkFinding("error", f"is a {kind} image but its name says {expected}"))
    if width != height:
        found.append(ArtworkFinding("error", f"is {width}x{height} px; it must be square"))
    if not (
        MIN_ARTWORK_PX <= width <= MAX_ARTWORK_PX and MIN_ARTWORK_PX <= height <= MAX_ARTWORK_PX
    ):
        found.append(
            ArtworkFinding(
                "error",
                f"is {width}x{height} px; Apple requires {MIN_ARTWORK_PX} to {MAX_ARTWORK_PX} px "
                "a side",
            )
        )
    if mode in _RGB_ALPHA_MODES:
        found.append(
            ArtworkFinding(
                "warning", "has transparency; podcast apps show it on a background of their own"
            )
        )
    elif mode not in _RGB_MODES:
        colours = _MODE_NAMES.get(mode, mode)
        found.append(ArtworkFinding("error", f"is {colours}; Apple requires the RGB colour space"))
    return found


def artwork_url_finding(url: str) -> ArtworkFinding | None:
    """An artwork URL whose path does not end in .jpg, .jpeg or .png (Apple wants the extension)."""
    if names_artwork_file(url):
        return None
    return ArtworkFinding(
        "error", f"'{url}' does not name a JPEG or PNG file (.jpg or .png); Apple refuses it"
    )


def artwork_file_findings(path: Path) -> list[ArtworkFinding]:
    """artwork_findings() for a file on disk (an unreadable file is one error)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [ArtworkFinding("error", f"cannot be read ({exc.strerror or exc})")]
    return artwork_findings(data, path.name)


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
    refused = [f.message for f in artwork_findings(data, path.name) if f.severity == "error"]
    if refused:
        raise ArtworkError(f"{what}: '{path}' " + "; it ".join(refused))
    return Artwork(data=data, mime=mime)


def _remote(value: str, what: str) -> PublishedImage:
    url = safe_http_url(value)
    if url is None:
        raise ArtworkError(f"{what}: '{value}' is not a valid http(s) URL")
    finding = artwork_url_finding(url)
    if finding is not None:
        raise ArtworkError(f"{what}: {finding.message}")
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
