"""Making untrusted text safe for XML, HTML, CDATA, Markdown and URLs."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

# Characters XML 1.0 forbids (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/U+FFFF)
# and the C1 controls it discourages, which feed readers reinterpret as Windows-1252.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BLANK_LINES = re.compile(r"\n\s*\n")
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MD_BLOCK_MARK = re.compile(r"^(\s*)([#+\-=])", re.MULTILINE)
_MD_ORDERED_MARK = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)
# What urllib.parse.quote(part, safe="") leaves as it is (a path part needing no quoting).
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


def escape_text(text: str) -> str:
    """markupsafe.escape() of a plain string, as a plain string."""
    return str(escape(text))


def xml_safe(text: str) -> str:
    """Drop characters that XML 1.0 (and so HTML parsers and feed readers) cannot carry."""
    if _XML_ILLEGAL.search(text) is None:
        return text
    return _XML_ILLEGAL.sub("", text)


def clean(text: str | None) -> str:
    """Untrusted text normalised for output: legal characters, unified newlines, trimmed."""
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return xml_safe(text).strip()


def one_line(text: str | None) -> str:
    return " ".join(clean(text).split())


one_line_cached = lru_cache(maxsize=4096)(one_line)
"""one_line() for values that repeat across episodes (speaker names, keywords)."""


def paragraphs_html(text: str | None) -> Markup:
    """Plain text -> escaped HTML paragraphs (blank line = new paragraph, newline = <br>)."""
    return cleaned_paragraphs_html(clean(text))


def cleaned_paragraphs_html(cleaned: str) -> Markup:
    """paragraphs_html() of text already clean()ed."""
    if not cleaned:
        return Markup("")
    escaped = escape_text(cleaned)
    if "\n" not in escaped:
        return Markup(f"<p>{escaped}</p>")
    parts = [part.strip() for part in _BLANK_LINES.split(escaped)]
    return Markup(
        "\n".join(f"<p>{part.replace(chr(10), '<br>' + chr(10))}</p>" for part in parts if part)
    )


def cdata(html: str) -> Markup:
    """Content for a <![CDATA[...]]> section: any `]]>` is split across two sections."""
    return Markup(xml_safe(str(html)).replace("]]>", "]]]]><![CDATA[>"))


def markdown_escape(value: object) -> str:
    """Untrusted text as literal Markdown: HTML is neutralised, emphasis/links/blocks escaped."""
    if isinstance(value, Markup):
        return str(value)
    text = clean(str(value)) if value is not None else ""
    text = _MD_INLINE.sub(r"\\\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_BLOCK_MARK.sub(r"\1\\\2", text)
    return _MD_ORDERED_MARK.sub(r"\1\\\2", text)


def safe_http_url(url: str | None) -> str | None:
    """An absolute http(s) URL with unsafe characters percent-encoded, or None."""
    if not url:
        return None
    return _safe_http_url(url)


@lru_cache(maxsize=1024)  # episodes often share a link (a source site, the show's page)
def _safe_http_url(url: str) -> str | None:
    url = clean(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%~")


def quote_relpath(relpath: str) -> str:
    """'episodes/my ep/x.mp3' -> 'episodes/my%20ep/x.mp3' (every part fully quoted)."""
    if _UNRESERVED_PATH.fullmatch(relpath):
        return relpath
    return "/".join(quote(part, safe="") for part in relpath.split("/"))


def quote_part(text: str) -> str:
    """One path part fully quoted: 'my ep/1' -> 'my%20ep%2F1'."""
    if "/" not in text and _UNRESERVED_PATH.fullmatch(text):
        return text
    return quote(text, safe="")


def join_url(base_url: str, relpath: str) -> str:
    """Absolute URL of a file under output/, given the show's base_url (a folder)."""
    return base_url.rstrip("/") + "/" + quote_relpath(relpath)


def clock(seconds: float) -> str:
    """Human timestamp: 4:05, 1:02:03."""
    return _clock(max(0, int(seconds)))


@lru_cache(maxsize=8192)  # chapter starts and durations repeat across episodes
def _clock(total: int) -> str:
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cue_time(seconds: float, separator: str = ".") -> str:
    """WebVTT (HH:MM:SS.mmm) or, with ',', SRT (HH:MM:SS,mmm) timestamp."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
