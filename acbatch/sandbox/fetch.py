"""Website and attachment sources for the sandbox's script step (works with loopback pages)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import requests

from acbatch.constants import SOURCE_SUFFIXES
from acbatch.sandbox.backend import TaskFailure

MAX_SOURCE_BYTES = 10 * 1024 * 1024
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/markdown": ".md",
}


def fetch_source_text(url: str, *, timeout: float = 10.0) -> str:
    from acbatch.sources import SourceError, extract_text, html_to_text

    try:
        with requests.get(url, timeout=timeout, stream=True, allow_redirects=True) as response:
            if response.status_code >= 400:
                raise TaskFailure(f"Fetching the source failed: HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_SOURCE_BYTES:
                    raise TaskFailure("The source is larger than the sandbox accepts (10 MB)")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    except requests.RequestException as exc:
        raise TaskFailure(f"Fetching the source failed: {exc.__class__.__name__}") from None

    if content_type in ("text/html", "application/xhtml+xml") or body.lstrip()[
        :15
    ].lower().startswith((b"<!doctype html", b"<html")):
        _title, text = html_to_text(body.decode(response.encoding or "utf-8", "replace"))
        return text
    if content_type.startswith("text/"):
        return body.decode(response.encoding or "utf-8", "replace")
    suffix = _EXTENSIONS.get(content_type) or Path(url.split("?")[0]).suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"source{suffix}"
            path.write_bytes(body)
            try:
                return extract_text(path)
            except SourceError as exc:
                raise TaskFailure(f"The attachment could not be read: {exc}") from None
    raise TaskFailure(
        f"The sandbox cannot read {content_type or 'this kind of'} attachments (images, audio "
        "and video need the real audiocleaner.ai service)"
    )
