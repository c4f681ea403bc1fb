"""Typed exceptions for every way a Podcast API call can go wrong.

Each exception answers the two questions a caller (the runner) must ask before acting:
`retryable` — can sending the same request again succeed? — and `processed` — did the server act
on it? (True: it did; False: provably not; None: unknown, e.g. a read timeout after sending.)
Nothing here retries: retry policy belongs to the runner.
"""

from __future__ import annotations

from acbatch import codes
from acbatch.redact import redact


class ApiError(Exception):
    retryable: bool = False
    processed: bool | None = False

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        self.endpoint = endpoint
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self)


class TransportError(ApiError):
    """The HTTP exchange itself failed."""


class RequestNotSent(TransportError):
    """The request provably never reached the server (connect failure, refused before the body)."""

    retryable = True
    processed = False


class ResponseLost(TransportError):
    """The request was sent but no complete response came back: the outcome is unknown."""

    retryable = False
    processed = None


class HttpStatusError(ApiError):
    """A non-2xx HTTP status without a documented API code in the body."""

    def __init__(
        self, message: str, *, status: int, endpoint: str = "", processed: bool | None = False
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status = status
        self.processed = processed
        # A 5xx on an idempotent read, or a refusal (429/503) anywhere, is worth another try.
        self.retryable = status in (429, 503) or (status >= 500 and processed is False)


class InvalidResponse(ApiError):
    """The body was not JSON, or lacked or mistyped a documented field."""

    def __init__(self, message: str, *, endpoint: str = "", processed: bool | None = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.processed = processed


class ApiCodeError(ApiError):
    """The API answered with a documented, non-success `code`."""

    code: int = 0

    def __init__(self, message: str = "", *, endpoint: str = "", code: int | None = None) -> None:
        if code is not None:
            self.code = code
        documented = codes.RESPONSE_CODES.get(self.code)
        text = message or (documented.message if documented else "unknown error")
        super().__init__(f"{text} (code {self.code})", endpoint=endpoint)


class InsufficientCredits(ApiCodeError):
    code = codes.INSUFFICIENT_CREDITS


class InvalidApiKey(ApiCodeError):
    code = codes.INVALID_KEY


class UnusableApiKey(InvalidApiKey):
    """The key cannot be sent in an HTTP header at all: refused before any request leaves."""

    def __init__(self, problem: str, *, endpoint: str = "") -> None:
        ApiError.__init__(
            self,
            f"the API key cannot be sent: {problem}; check the value of AUDIOCLEANER_API_KEY",
            endpoint=endpoint,
        )


class RateLimited(ApiCodeError):
    code = codes.RATE_LIMITED


class ConcurrencyLimited(ApiCodeError):
    code = codes.CONCURRENCY_LIMITED


class AccountSuspended(ApiCodeError):
    code = codes.SUSPENDED


class KeyNotEnabled(ApiCodeError):
    code = codes.NOT_ENABLED


class TaskNotFound(ApiCodeError):
    code = codes.TASK_NOT_FOUND


class NotLoggedIn(ApiCodeError):
    code = codes.NOT_LOGGED_IN


class UnknownApiCode(ApiCodeError):
    """A code the documentation does not list: not retried, outcome treated as not processed."""


_EXCEPTION_BY_CODE: dict[int, type[ApiCodeError]] = {
    cls.code: cls
    for cls in (
        InsufficientCredits,
        InvalidApiKey,
        RateLimited,
        ConcurrencyLimited,
        AccountSuspended,
        KeyNotEnabled,
        TaskNotFound,
        NotLoggedIn,
    )
}

# Each documented code's retry/processed facts come from the one table in acbatch.codes.
for _code, _cls in _EXCEPTION_BY_CODE.items():
    _cls.retryable = codes.RESPONSE_CODES[_code].retryable
    _cls.processed = codes.RESPONSE_CODES[_code].processed


# Refused locally: provably not sent, and sending it again cannot help.
UnusableApiKey.retryable = False
UnusableApiKey.processed = False


def error_for_code(code: int, message: str, endpoint: str) -> ApiCodeError:
    cls = _EXCEPTION_BY_CODE.get(code)
    if cls is None:
        return UnknownApiCode(message, endpoint=endpoint, code=code)
    return cls(message, endpoint=endpoint)
