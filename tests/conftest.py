"""Shared fixtures: a real sandbox on loopback, and a scratch copy of a small show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from acbatch.sandbox.backend import SandboxSettings
from acbatch.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sandbox_factory() -> Iterator[object]:
    """Start sandboxes with given settings; all are stopped after the test."""
    started: list[SandboxServer] = []

    def start(**settings: object) -> SandboxServer:
        defaults: dict[str, object] = {"script_delay": 0.05, "audio_delay": 0.05}
        defaults.update(settings)
        server = SandboxServer(SandboxSettings(**defaults)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: object) -> SandboxServer:
    return sandbox_factory()  # type: ignore[operator]


@pytest.fixture(autouse=True)
def _no_api_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a real key or host from the developer's shell."""
    monkeypatch.delenv("AUDIOCLEANER_API_KEY", raising=False)
    monkeypatch.delenv("AUDIOCLEANER_API_BASE", raising=False)
    monkeypatch.setenv("CI", os.environ.get("CI", "1"))
