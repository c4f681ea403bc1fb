"""The audiocleaner.ai Podcast API: a requests-based client and its typed exceptions."""

from acbatch.api.client import PodcastClient, Task
from acbatch.api.errors import (
    AccountSuspended,
    ApiCodeError,
    ApiError,
    ConcurrencyLimited,
    HttpStatusError,
    InsufficientCredits,
    InvalidApiKey,
    InvalidResponse,
    KeyNotEnabled,
    RateLimited,
    RequestNotSent,
    ResponseLost,
    TaskNotFound,
    TransportError,
    UnknownApiCode,
    UnusableApiKey,
)
from acbatch.api.settings import ApiSettingsResolved, resolve_api_settings

__all__ = [
    "AccountSuspended",
    "ApiCodeError",
    "ApiError",
    "ApiSettingsResolved",
    "ConcurrencyLimited",
    "HttpStatusError",
    "InsufficientCredits",
    "InvalidApiKey",
    "InvalidResponse",
    "KeyNotEnabled",
    "PodcastClient",
    "RateLimited",
    "RequestNotSent",
    "ResponseLost",
    "Task",
    "TaskNotFound",
    "TransportError",
    "UnknownApiCode",
    "UnusableApiKey",
    "resolve_api_settings",
]
