"""The audiocleaner.ai Podcast API's codes, in one table.

Everything acbatch knows about the contract's enumerations lives here: source types, styles,
duration levels, languages, task statuses, response codes and the credit rule. The client, the
sandbox, the schemas' tests and the docs all read from this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

API_DEFAULT_BASE = "https://audiocleaner.ai"

SCRIPT_CREATE = "/audio/api/v1/api-keys/podcast/script/create"
SCRIPT_GET = "/audio/api/v1/api-keys/podcast/script/get"
AUDIO_CREATE = "/audio/api/v1/api-keys/podcast/audio/create"
AUDIO_GET = "/audio/api/v1/api-keys/podcast/audio/get"
ENDPOINTS = (SCRIPT_CREATE, SCRIPT_GET, AUDIO_CREATE, AUDIO_GET)
CREATE_ENDPOINTS = (SCRIPT_CREATE, AUDIO_CREATE)


class SourceType(int, Enum):
    WEBSITE = 1
    YOUTUBE = 2
    ATTACHMENT = 3
    TEXT = 4


# Spec source keys -> the API's source_type. `file` is extracted locally and sent as plain text.
SOURCE_KEYS: dict[str, SourceType] = {
    "url": SourceType.WEBSITE,
    "youtube": SourceType.YOUTUBE,
    "attachment": SourceType.ATTACHMENT,
    "text": SourceType.TEXT,
    "file": SourceType.TEXT,
}

STYLES: dict[str, int] = {
    "educational": 1,
    "interview": 2,
    "deep-dive": 3,
    "storytelling": 4,
    "news-report": 5,
    "talk-show": 6,
    "personal-growth": 7,
    "funny": 8,
    "roast": 9,
}
STYLE_NAMES: dict[int, str] = {code: name for name, code in STYLES.items()}


@dataclass(frozen=True)
class DurationLevel:
    level: int
    label: str
    min_minutes: float
    max_minutes: float


DURATIONS: tuple[DurationLevel, ...] = (
    DurationLevel(1, "0-1min", 0, 1),
    DurationLevel(2, "1-3min", 1, 3),
    DurationLevel(3, "3-5min", 3, 5),
    DurationLevel(4, "5-7min", 5, 7),
    DurationLevel(5, "7-8min", 7, 8),
    DurationLevel(6, "8-10min", 8, 10),
    DurationLevel(7, "10-15min", 10, 15),
)
DURATION_BY_LEVEL: dict[int, DurationLevel] = {d.level: d for d in DURATIONS}
DURATION_BY_LABEL: dict[str, DurationLevel] = {d.label: d for d in DURATIONS}

LANGUAGES: dict[str, str] = {
    "zh": "Simplified Chinese",
    "zh_yue": "Cantonese",
    "en": "English",
    "ar": "Arabic",
    "ru": "Russian",
    "es": "Spanish",
    "fr": "French",
    "pt": "Portuguese",
    "de": "German",
    "ja": "Japanese",
    "ko": "Korean",
}

LANGUAGE_NATIVE_NAMES: dict[str, tuple[str, ...]] = {
    "zh": ("简体中文", "中文"),
    "zh_yue": ("粵語", "廣東話"),
    "en": ("English",),
    "ar": ("العربية",),
    "ru": ("Русский",),
    "es": ("Español",),
    "fr": ("Français",),
    "pt": ("Português",),
    "de": ("Deutsch",),
    "ja": ("日本語",),
    "ko": ("한국어",),
}
"""Each language's own name(s); specs may write these, the English name or the code."""


def language_values() -> list[str]:
    """Every accepted spelling of `language:`: the codes, the English names, the own names."""
    values = list(LANGUAGES) + list(LANGUAGES.values())
    for names in LANGUAGE_NATIVE_NAMES.values():
        values += [name for name in names if name not in values]
    return values


def language_code(value: str) -> str:
    """A language code, English name or own name -> the API's code (KeyError if none)."""
    if value in LANGUAGES:
        return value
    for code, name in LANGUAGES.items():
        if value == name or value in LANGUAGE_NATIVE_NAMES.get(code, ()):
            return code
    raise KeyError(value)


STATUS_WAITING = "waiting"
STATUS_SUCCESS = "success"
STATUS_FAILED = "failed"
TASK_STATUSES = (STATUS_WAITING, STATUS_SUCCESS, STATUS_FAILED)


@dataclass(frozen=True)
class ResponseCode:
    """One documented `code`, with what a client may conclude from it."""

    code: int
    name: str
    message: str
    retryable: bool
    """Waiting and sending the same request again can succeed."""
    processed: bool
    """The server acted on the request (False: it provably did not take effect)."""
    endpoints: tuple[str, ...]


SUCCESS = 100000
INSUFFICIENT_CREDITS = 100100
NOT_LOGGED_IN = 100001
INVALID_KEY = 101002
RATE_LIMITED = 101003
CONCURRENCY_LIMITED = 101004
SUSPENDED = 101005
NOT_ENABLED = 101006
TASK_NOT_FOUND = 101008

_ALL = ENDPOINTS
_CREATES = CREATE_ENDPOINTS
_GETS = (SCRIPT_GET, AUDIO_GET)

RESPONSE_CODES: dict[int, ResponseCode] = {
    rc.code: rc
    for rc in (
        ResponseCode(SUCCESS, "success", "Request Success", False, True, _ALL),
        ResponseCode(
            INSUFFICIENT_CREDITS,
            "insufficient_credits",
            "Insufficient credit balance",
            False,
            False,
            _ALL,
        ),
        ResponseCode(NOT_LOGGED_IN, "not_logged_in", "Need Login", False, False, ()),
        ResponseCode(INVALID_KEY, "invalid_key", "Invalid API key", False, False, _ALL),
        ResponseCode(
            RATE_LIMITED, "rate_limited", "API key rate limit exceeded", True, False, _ALL
        ),
        ResponseCode(
            CONCURRENCY_LIMITED,
            "concurrency_limited",
            "API key concurrent request limit exceeded",
            True,
            False,
            _ALL,
        ),
        ResponseCode(
            SUSPENDED,
            "suspended",
            "Your account is suspended. Status cannot be modified. "
            "Please contact the administrator",
            False,
            False,
            _CREATES,
        ),
        ResponseCode(NOT_ENABLED, "not_enabled", "API key not enabled", False, False, _CREATES),
        ResponseCode(TASK_NOT_FOUND, "task_not_found", "Task not found", False, False, _GETS),
    )
}


def style_code(value: int | str) -> int:
    """A style name or code -> the API's code."""
    if isinstance(value, int):
        if value in STYLE_NAMES:
            return value
        raise ValueError(f"unknown style code {value}")
    return STYLES[value]


def duration_level(value: int | str) -> DurationLevel:
    """A duration level (1-7) or its label ('1-3min') -> the level."""
    if isinstance(value, int):
        return DURATION_BY_LEVEL[value]
    return DURATION_BY_LABEL[value]


def credits_for_minutes(minutes: float) -> int:
    """The documented rule: max(10, floor(minutes) x 10)."""
    return max(10, math.floor(minutes) * 10)


def credits_for_seconds(seconds: float) -> int:
    return credits_for_minutes(seconds / 60.0)


def credit_range(level: int | str) -> tuple[int, int]:
    """Lowest and highest credits an audio task of this duration level can cost."""
    d = duration_level(level)
    return credits_for_minutes(d.min_minutes), credits_for_minutes(d.max_minutes)
