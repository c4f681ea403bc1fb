"""Shared fixtures: a real sandbox on loopback, and a scratch copy of a small show."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from acbatch.sandbox.backend import SandboxSettings
from acbatch.sandbox.server import SandboxServer
from tests.samples import png_bytes

if TYPE_CHECKING:
    from acbatch.project.model import Project
    from acbatch.runner.decide import Word
    from acbatch.runner.plan import PlanItem
    from acbatch.runner.state import StateStore

REPO = Path(__file__).resolve().parent.parent
DRILL_LINES: list[str] = []


@pytest.fixture
def drill_report() -> object:
    """Lines a crash or soak drill wants shown in the run's summary (CI logs keep them)."""
    return DRILL_LINES.append


def pytest_terminal_summary(terminalreporter: object) -> None:
    if DRILL_LINES:
        terminalreporter.section("fault and crash drills")  # type: ignore[attr-defined]
        for line in DRILL_LINES:
            terminalreporter.write_line(line)  # type: ignore[attr-defined]


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


def acbatch_environment(
    env: Mapping[str, str] | None = None, drop: Iterable[str] = ()
) -> dict[str, str]:
    """This process's environment without the names in `drop`, with `env` laid over it."""
    dropped = {"ACBATCH_FAILPOINT", *drop}
    return {
        **{name: value for name, value in os.environ.items() if name not in dropped},
        **(env or {}),
    }


def acbatch(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    drop: Iterable[str] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`acbatch ARGS` run as a user runs it, in a child process: its output captured as text,
    its environment this one's (never a crash point left set) with `env` laid over it."""
    return subprocess.run(
        [sys.executable, "-m", "acbatch", *args],
        cwd=cwd,
        env=acbatch_environment(env, drop),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_acbatch(
    *args: str, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """`acbatch ARGS` started in a child process (stdout and stderr piped unless `popen` says
    otherwise), for tests that signal, kill or race it."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-m", "acbatch", *args],
        env=acbatch_environment(env),
        text=True,
        **popen,
    )


def demo_catalog() -> dict[str, object]:
    from acbatch.sandbox.catalog import sandbox_catalog

    return sandbox_catalog().to_document()


def account_catalog() -> dict[str, object]:
    """An account's voice catalog, as `acbatch voices import` installs it: the sandbox's voice
    ids and names (so the sandbox accepts them), but no demo marker and real-looking voice_ids,
    so that live runs in tests pass the check that keeps demo voices off the real service."""
    from acbatch.sandbox.catalog import sandbox_catalog

    document = sandbox_catalog().to_document()
    document.pop("sandbox", None)
    document["message"] = "Request Success"
    for record in document["data"]["records"]:
        record["voice_id"] = f"https://resource.example.com/voices/{record['name']}.mp3"
        record["tags"] = [t for t in record["tags"] if t != "Sandbox"]
    return document


def write_show(
    root: Path,
    episodes: dict[str, dict[str, object]],
    *,
    defaults: dict[str, object] | None = None,
    api: dict[str, object] | None = None,
    catalog: str = "account",
) -> Path:
    """A small, valid show in `root`: acbatch.yaml, specs/<id>.yaml and the sandbox's voices."""
    import json

    import yaml

    root.mkdir(parents=True, exist_ok=True)
    config = {
        "show": {
            "title": "Test Show",
            "description": "A show made by the test suite.",
            "author": "Test Author",
            "owner": {"name": "Test Author", "email": "author@example.com"},
            "language": "en",
            "categories": ["Technology"],
            "base_url": "https://podcast.example.com/",
            "image": "cover.png",
        },
        "defaults": defaults
        or {"style": "interview", "duration": 1, "language": "en", "speakers": ["ava", "leo"]},
        "api": api or {"jobs": 4},
    }
    (root / "acbatch.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "cover.png").write_bytes(png_bytes(1400, (20, 90, 140)))
    # "account": an account's catalog (live runs pass); "demo": the sandbox's demo catalog.
    document = account_catalog() if catalog == "account" else demo_catalog()
    (root / "voices.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    specs = root / "specs"
    specs.mkdir(exist_ok=True)
    for episode_id, spec in episodes.items():
        (specs / f"{episode_id}.yaml").write_text(
            yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    return root / "acbatch.yaml"


def text_episode(number: int, **extra: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "source": {
            "text": f"Episode {number} is about tide pools and the animals in them. "
            f"Sea stars cling to rock number {number}. Crabs hide when the water goes out. "
            "Anemones wave their arms to catch food."
        },
        "publish": {"date": "2026-01-01", "season": 1, "episode": number + 1},
    }
    spec.update(extra)
    return spec


def audio_request_from_script(script: dict[str, Any], script_global_id: str) -> dict[str, Any]:
    """A step-2 body straight from a step-1 result, as the API's FAQ recommends (the product
    builds it in acbatch.runner.bodies.audio_request, with the episode's overrides)."""
    return {
        "title": script.get("title", ""),
        "processed_content": script.get("processed_content", ""),
        "podcast_script": script.get("podcast_script", []),
        "hightlights": script.get("hightlights", []),
        "global_id": script_global_id,
    }


def plan_project(
    project: Project,
    store: StateStore,
    *,
    service: str = "",
    budget_left: int | None = None,
    words: Mapping[str, Word] | None = None,
) -> list[PlanItem]:
    """The plan of a run over every non-draft episode, as `acbatch plan` builds it."""
    from acbatch.runner.limits import CreditBudget
    from acbatch.runner.plan import plan_item, plan_run

    episodes = [episode for episode in project.episodes if not episode.draft]
    budget = CreditBudget(budget_left)
    planned = plan_run(project, store, episodes, service=service, budget=budget, words=words)
    return [plan_item(current, decision) for current, decision in planned]
