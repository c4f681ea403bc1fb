"""Keeping the API key, and text that could fool a terminal, out of everything acbatch shows.

Two cleaners, one place:

- `clean_text` / `clean_data` for text that is *stored* (state, caches, output, ID3 tags): the key
  in any spelling is masked, lone surrogates and Unicode non-characters (which cannot be written
  as UTF-8 or XML) become U+FFFD, and control characters other than tab and line breaks, and bidi
  overrides (which can make a line read differently from what it holds), are removed.
- `redact` for text that is *printed* (messages, exceptions, progress lines): the same, and
  newlines are kept only as plain line breaks.

The API client passes every answer and every exception through them, so the runner and the
publisher only ever see clean text.
"""

from __future__ import annotations

import html
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlencode, urlsplit, urlunsplit

_lock = threading.Lock()
_secrets: set[str] = set()
_spellings: list[str] = []
_percent_patterns: list[re.Pattern[str]] = []
"""URL-encoded spellings, matched whatever the case of their hex digits."""
MASK = "***"
MIN_SECRET_LENGTH = 4

# C0 controls except tab, LF and CR; DEL; C1 controls (ESC-free CSI is U+009B).
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Bidi embeddings, overrides and isolates: they reorder how a line is displayed.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[{_CONTROLS}{_BIDI}]")
# Lone surrogates and the 66 Unicode non-characters.
_UNENCODABLE = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _spellings_of(secret: str) -> set[str]:
    """Every way the key can come back from a server or a library's error message."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms.add(encoded)
        forms.add(_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), encoded))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def register_secret(value: str) -> None:
    """Remember a secret so that every cleaner masks it wherever it turns up."""
    global _spellings, _percent_patterns
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)
            forms: set[str] = set()
            for secret in _secrets:
                forms |= _spellings_of(secret)
            _spellings = sorted(forms, key=len, reverse=True)
            _percent_patterns = [
                re.compile(_PERCENT_ESCAPE.sub(_any_case_escape, re.escape(form)))
                for form in _spellings
                if _PERCENT_ESCAPE.search(form)
            ]


def _any_case_escape(match: re.Match[str]) -> str:
    return "%" + "".join(f"[{c.upper()}{c.lower()}]" for c in match.group(0)[1:])


def mask_secrets(text: str) -> str:
    for form in _spellings:
        if form in text:
            text = text.replace(form, MASK)
    if "%" in text:
        for pattern in _percent_patterns:
            text = pattern.sub(MASK, text)
    return text


def clean_text(text: str) -> str:
    """Text fit to store: no key, no lone surrogates or non-characters, no terminal controls."""
    text = mask_secrets(text)
    text = _UNENCODABLE.sub("\ufffd", text)
    return _UNPRINTABLE.sub("", text)


def redact(text: str) -> str:
    """Text fit to print: `clean_text`, with carriage returns (which overwrite a line) removed."""
    return clean_text(str(text)).replace("\r", "")


def clean_data(value: Any) -> Any:
    """`clean_text` applied to every string (keys included) of decoded JSON; a URL whose query
    carries the key loses that parameter rather than keeping a masked one."""
    if isinstance(value, str):
        if value[:8].lower().startswith(("http://", "https://")) and contains_secret(value):
            value = strip_secret_query(value)
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_data(key): clean_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_data(item) for item in value]
    return value


def contains_secret(text: str) -> bool:
    return mask_secrets(text) != text


def strip_secret_query(url: str) -> str:
    """`url` without the query parameters (or fragment) that carry a registered secret."""
    parts = urlsplit(url)
    if not _secrets:
        return url
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not (contains_secret(name) or contains_secret(value))
    ]
    query = parts.query
    if contains_secret(unquote_plus(query)) or contains_secret(query):
        query = urlencode(kept)
    fragment = "" if contains_secret(unquote_plus(parts.fragment)) else parts.fragment
    netloc = parts.netloc
    if contains_secret(unquote_plus(netloc)):
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an HTTP header value, or None when it can."""
    if any(char in value for char in "\r\n\0"):
        return "it contains a line break or NUL character"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "it contains characters outside Latin-1 (an HTTP header cannot carry them)"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value if char != "\t"):
        return "it contains control characters"
    if value != value.strip():
        return "it starts or ends with white space"
    return None


class Secret:
    """A string that never shows itself: repr, str and format all print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")
