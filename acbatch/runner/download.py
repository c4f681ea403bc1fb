"""Fetching the finished audio: streamed, checked, and only then renamed into output/.

A download is bounded like an API call: one wall-clock limit covers connecting, the headers and
the whole body (a host trickling a byte every few seconds is cut off at the limit), the size is
capped while reading, and no connection is made to a loopback, link-local or private address
unless the API itself lives at such an address (the sandbox), checked again after every redirect.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from acbatch import __version__
from acbatch.api.settings import ENV_BASE
from acbatch.api.transport import (
    _Watchdog,
    refused_address,
    resolve,
    tls_context,
    trust_api_host,
)
from acbatch.redact import redact
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
        super().__init__(redact(message))
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


@dataclass(frozen=True)
class _Budget:
    seconds: float
    deadline: float
    connect_timeout: float
    read_timeout: float

    def late(self) -> str:
        # Not retried within the run: a host this slow rarely recovers in seconds.
        return f"the audio did not arrive within the {self.seconds:g}s limit; the next run retries"


def _open(
    url: str, budget: _Budget
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, _Watchdog]:
    """Connect to an address that passed the policy (the very address checked, so a second DNS
    answer cannot swap it), send the GET and read the headers under the watchdog."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme.lower() == "https"
    port = parts.port or (443 if secure else 80)
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise DownloadError(f"could not fetch the audio: {exc}", retryable=True) from None
    refused = refused_address(addresses)
    if refused is not None:
        raise DownloadError(
            f"refusing to download audio from {host}: {refused} (only the API's own kind of "
            "address may serve files)"
        )
    remaining = budget.deadline - time.monotonic()
    if remaining <= 0:
        raise DownloadError(budget.late())
    try:
        sock = socket.create_connection(
            (addresses[0], port), timeout=min(budget.connect_timeout, remaining)
        )
    except OSError as exc:
        raise DownloadError(f"could not connect to {host}: {exc}", retryable=True) from None
    conn: http.client.HTTPConnection
    if secure:
        context = tls_context()
        try:
            sock.settimeout(
                max(0.001, min(budget.read_timeout, budget.deadline - time.monotonic()))
            )
            sock = context.wrap_socket(sock, server_hostname=host)
        except OSError as exc:
            sock.close()
            raise DownloadError(f"could not connect to {host}: {exc}", retryable=True) from None
        conn = http.client.HTTPSConnection(host, port, context=context)
    else:
        conn = http.client.HTTPConnection(host, port)
    # Made after the TLS wrap: wrapping takes the socket's descriptor over.
    watchdog = _Watchdog(sock, budget.deadline - time.monotonic())
    try:
        sock.settimeout(budget.read_timeout)
        conn.sock = sock
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("User-Agent", f"acbatch/{__version__}")
        conn.putheader("Accept-Encoding", "identity")
        conn.endheaders()
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        watchdog.cancel()
        sock.close()
        if watchdog.fired:
            raise DownloadError(budget.late()) from None
        raise DownloadError(f"could not fetch the audio: {exc}", retryable=True) from None
    return conn, response, watchdog


def measure_mp3(path: Path) -> float:
    """The duration mutagen reads, or DownloadError when the file is not MPEG audio."""
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    try:
        audio = MP3(path)  # type: ignore[no-untyped-call]  # mutagen has no annotations
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
    timeout: tuple[float, float],
    deadline_seconds: float,
    api_base_url: str | None = None,
) -> DownloadedAudio:
    """Stream `url` to a temporary file beside `destination`, verify it, then rename it in.

    No API key is ever sent: the audio host is not the API. `timeout`: (connect, read) seconds;
    `deadline_seconds` bounds the whole attempt (connect, headers, body), redirects included.
    `api_base_url`: where the API lives (see trust_api_host).
    """
    # The API's address decides which addresses may serve files. A run that only downloads
    # never makes an API client (which registers it), so the environment's API host counts too.
    for base in (api_base_url, os.environ.get(ENV_BASE)):
        if base:
            trust_api_host(base)
    budget = _Budget(deadline_seconds, time.monotonic() + deadline_seconds, timeout[0], timeout[1])
    try:
        return _download(url, destination, max_bytes, budget)
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        from acbatch.publish.files import write_failure

        raise DownloadError(str(write_failure(destination.parent, exc))) from None


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _download(url: str, destination: Path, max_bytes: int, budget: _Budget) -> DownloadedAudio:
    destination.parent.mkdir(parents=True, exist_ok=True)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(current)
        conn, response, watchdog = _open(current, budget)
        location = response.getheader("Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            watchdog.cancel()
            conn.close()
            current = urljoin(current, location)
            continue
        break
    else:
        raise DownloadError("too many redirects while fetching the audio")

    try:
        if response.status >= 400:
            raise DownloadError(
                f"the audio URL answered HTTP {response.status}",
                retryable=response.status >= 500 or response.status == 429,
            )
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if content_type and content_type not in ACCEPTED_TYPES:
            raise DownloadError(f"the audio URL served {content_type[:60]!r}, not MPEG audio")
        declared = (response.getheader("Content-Length") or "").strip()
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
                    while chunk := response.read1(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise DownloadError(f"the audio is over the {max_bytes}-byte limit")
                        digest.update(chunk)
                        handle.write(chunk)
                    if response.length:
                        raise http.client.IncompleteRead(b"", response.length)
                    if watchdog.fired:  # a body that ends at connection close ends quietly
                        raise TimeoutError("cut off at the wall-clock limit")
                except (OSError, http.client.HTTPException) as exc:
                    if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                        raise  # the disk, not the network: reported as such
                    if watchdog.fired:
                        raise DownloadError(budget.late()) from None
                    raise DownloadError(f"the download broke off: {exc}", retryable=True) from None
                handle.flush()
                os.fsync(handle.fileno())
            watchdog.cancel()
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
    finally:
        watchdog.cancel()
        conn.close()
    return DownloadedAudio(destination, size, digest.hexdigest(), duration)
