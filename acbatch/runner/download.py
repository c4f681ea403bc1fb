"""Fetching the finished audio: streamed, checked, and only then renamed into output/."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from acbatch import __version__
from acbatch.runner.failpoints import failpoint

ACCEPTED_TYPES = (
    "audio/mpeg",
    "audio/mp3",
    "audio/mpeg3",
    "audio/x-mpeg",
    "audio/x-mp3",
    "application/octet-stream",
    "binary/octet-stream",
)
MAX_REDIRECTS = 5
CHUNK = 1 << 16


class DownloadError(Exception):
    """The audio could not be fetched or is not an MP3; `retryable` when trying again may help."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class DownloadedAudio:
    path: Path
    bytes: int
    sha256: str
    duration: float


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"refusing to download audio from a non-http(s) URL: {url[:100]!r}")


def measure_mp3(path: Path) -> float:
    """The duration mutagen reads, or DownloadError when the file is not MPEG audio."""
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    try:
        audio = MP3(path)
    except (MutagenError, OSError, ValueError) as exc:
        raise DownloadError(f"the downloaded file is not MPEG audio ({exc})") from None
    if not audio.info or audio.info.length <= 0:
        raise DownloadError("the downloaded file holds no audio")
    return float(audio.info.length)


def download_audio(
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    timeout: tuple[float, float] = (10.0, 60.0),
    session: requests.Session | None = None,
) -> DownloadedAudio:
    """Stream `url` to a temporary file beside `destination`, verify it, then rename it in.

    No API key is ever sent: the audio host is not the API.
    """
    http = session or requests.Session()
    headers = {"User-Agent": f"acbatch/{__version__}"}
    destination.parent.mkdir(parents=True, exist_ok=True)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(current)
        try:
            response = http.get(
                current, stream=True, timeout=timeout, headers=headers, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise DownloadError(f"could not fetch the audio: {exc}", retryable=True) from None
        if response.is_redirect and response.headers.get("Location"):
            current = urljoin(current, response.headers["Location"])
            response.close()
            continue
        break
    else:
        raise DownloadError("too many redirects while fetching the audio")

    with response:
        if response.status_code >= 400:
            raise DownloadError(
                f"the audio URL answered HTTP {response.status_code}",
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type and content_type not in ACCEPTED_TYPES:
            raise DownloadError(f"the audio URL served {content_type!r}, not MPEG audio")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise DownloadError(f"the audio is {int(declared)} bytes, over the {max_bytes} limit")

        fd, temporary_name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
        )
        temporary = Path(temporary_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as handle:
                try:
                    for chunk in response.iter_content(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise DownloadError(f"the audio is over the {max_bytes}-byte limit")
                        digest.update(chunk)
                        handle.write(chunk)
                except requests.RequestException as exc:
                    raise DownloadError(f"the download broke off: {exc}", retryable=True) from None
                handle.flush()
                os.fsync(handle.fileno())
            if size == 0:
                raise DownloadError("the audio URL returned an empty body", retryable=True)
            duration = measure_mp3(temporary)
            failpoint("mid_download")
            os.replace(temporary, destination)
            dir_fd = os.open(destination.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    return DownloadedAudio(destination, size, digest.hexdigest(), duration)
