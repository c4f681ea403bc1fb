"""Where the API key and base URL come from.

Precedence everywhere: command-line option, then environment variable, then acbatch.yaml, then
the default. The key has no acbatch.yaml entry on purpose: it must never sit in a committed file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from acbatch import codes
from acbatch.redact import Secret

ENV_KEY = "AUDIOCLEANER_API_KEY"
ENV_BASE = "AUDIOCLEANER_API_BASE"


@dataclass(frozen=True)
class ApiSettingsResolved:
    base_url: str
    key: Secret | None


def resolve_api_settings(
    *,
    option_base_url: str | None = None,
    config_base_url: str | None = None,
) -> ApiSettingsResolved:
    """The API host by precedence (option, environment, acbatch.yaml, default) and the key,
    which comes from the environment only: never from an option or a file."""
    env = os.environ
    base_url = next(
        value
        for value in (option_base_url, env.get(ENV_BASE), config_base_url, codes.API_DEFAULT_BASE)
        if value
    )
    raw_key = env.get(ENV_KEY) or ""
    key = Secret(raw_key.strip()) if raw_key.strip() else None
    return ApiSettingsResolved(base_url=base_url.rstrip("/"), key=key)
