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
    base_url_from: str
    """Which layer won: option, environment, config or default."""

    @property
    def is_default_host(self) -> bool:
        return self.base_url.rstrip("/") == codes.API_DEFAULT_BASE


def resolve_api_settings(
    *,
    option_base_url: str | None = None,
    config_base_url: str | None = None,
) -> ApiSettingsResolved:
    """The API host by precedence (option, environment, acbatch.yaml, default) and the key,
    which comes from the environment only: never from an option or a file."""
    env = os.environ
    for layer, value in (
        ("option", option_base_url),
        ("environment", env.get(ENV_BASE)),
        ("config", config_base_url),
        ("default", codes.API_DEFAULT_BASE),
    ):
        if value:
            base_url, base_from = value.rstrip("/"), layer
            break
    raw_key = env.get(ENV_KEY) or ""
    key = Secret(raw_key.strip()) if raw_key.strip() else None
    return ApiSettingsResolved(base_url=base_url, key=key, base_url_from=base_from)
