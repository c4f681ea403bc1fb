"""A show that goes from one language to a language matrix keeps the work it paid for.

`tide-pools` (made in English) becomes `tide-pools.en` and `tide-pools.ja`: the English episode
carries over the state of `tide-pools` when its script fingerprint is the same, so `plan` and
`run` announce and send creates for Japanese only. Every test drives the real command line
against the strict API double (tests/double.py), whose create counters are the witness.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import feedparser
import pytest
import yaml
from mutagen.mp3 import MP3

from acbatch.runner.failpoints import CARRY_NAMES
from acbatch.runner.state import StateStore
from tests.conftest import acbatch as run_acbatch
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble
from tests.test_languages import creates_by_language

KEY = "double-key-4242"
BASE_URL = "https://podcast.example.com/"


def acbatch(root: Path, double: StrictDouble, *args: str) -> Any:
    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
    return run_acbatch("-C", str(root), *args, env=env, timeout=120)


@pytest.fixture
def double() -> Any:
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as server:
        yield server


def single_language_show(root: Path, **spec: Any) -> Path:
    defaults = {"style": "interview", "duration": 1, "language": "en", "speakers": ["ava", "leo"]}
    api = {"jobs": 4, "polling": {"initial": 0.05, "max_interval": 0.2}}
    return write_show(root, {"tide-pools": text_episode(1, **spec)}, defaults=defaults, api=api)


def become_multilingual(config: Path, **defaults: Any) -> None:
    """`language: en` in defaults becomes `languages: [en, ja]` (and whatever else is given)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    del data["defaults"]["language"]
    data["defaults"].update({"languages": ["en", "ja"], **defaults})
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def plan(root: Path, double: StrictDouble) -> dict[str, dict[str, Any]]:
    result = acbatch(root, double, "plan", "--json")
    assert result.returncode == 0, result.stderr
    return {e["id"]: e for e in json.loads(result.stdout)["episodes"]}


def phases(root: Path, double: StrictDouble) -> dict[str, str]:
    status = acbatch(root, double, "status", "--json")
    assert status.returncode == 0, status.stderr
    return {row["id"]: row["phase"] for row in json.loads(status.stdout)["episodes"]}


def feed_audio(root: Path, code: str) -> dict[str, Path]:
    """The language's feed, read by a real parser: episode title -> the local file its
    enclosure URL serves (output/ is served at show.base_url)."""
    feed = feedparser.parse((root / "output" / code / "feed.xml").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    found = {}
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.href.startswith(BASE_URL)
        found[entry.title] = root / "output" / urlparse(enclosure.href).path.lstrip("/")
    return found


def test_going_multilingual_carries_the_paid_language_over(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = single_language_show(tmp_path)
    first = acbatch(tmp_path, double, "run")
    assert first.returncode == 0, first.stderr
    assert creates_by_language(double) == {("script", "en"): 1, ("audio", "en"): 1}
    old_state = StateStore(tmp_path / "state").load("tide-pools")
    assert old_state is not None and old_state.download is not None
    paid = old_state.credits_charged
    assert paid > 0

    become_multilingual(config)
    planned = plan(tmp_path, double)
    assert {i: e["action"] for i, e in planned.items()} == {
        "tide-pools.en": "done",
        "tide-pools.ja": "create_script",
    }
    assert planned["tide-pools.en"]["credits"]["high"] == 0
    told = acbatch(tmp_path, double, "plan")
    assert told.returncode == 0, told.stderr
    assert "tide-pools.en carries over the work of tide-pools" in told.stderr
    assert "tide-pools.ja carries" not in told.stderr
    # `status` sees what `plan` sees; both only read: nothing is written under the new id yet.
    assert phases(tmp_path, double) == {"tide-pools.en": "rendered", "tide-pools.ja": "new"}
    assert not (tmp_path / "state" / "tide-pools.en.json").exists()

    before = creates_by_language(double)
    second = acbatch(tmp_path, double, "run")
    assert second.returncode == 0, second.stderr
    assert creates_by_language(double) - before == {("script", "ja"): 1, ("audio", "ja"): 1}
    assert phases(tmp_path, double) == {"tide-pools.en": "rendered", "tide-pools.ja": "rendered"}

    store = StateStore(tmp_path / "state")
    carried = store.load("tide-pools.en")
    assert carried is not None and carried.carried_from == "tide-pools"
    assert carried.script.global_id == old_state.script.global_id
    assert carried.audio.global_id == old_state.audio.global_id
    assert carried.guid == old_state.guid
    marked = store.load("tide-pools")
    assert marked is not None and marked.carried_to == "tide-pools.en"

    # The English feed has the episode, with its audio where the English episodes live.
    (audio,) = feed_audio(tmp_path, "en").values()
    expected = tmp_path / "output" / "en" / "episodes" / "tide-pools.en" / "tide-pools.en.mp3"
    assert audio == expected
    assert MP3(audio).info.length > 0
    # The API's original and the published file made from it both moved with the episode.
    assert carried.mastered is not None and tmp_path / carried.mastered.path == expected
    assert carried.download is not None
    original = tmp_path / carried.download.path
    assert original == expected.with_name("tide-pools.en.original.mp3") and original.is_file()
    # The old feed's file is left where the old feed points.
    assert (tmp_path / old_state.download.path).is_file()

    # The English audio is counted once in the costs, under its new id.
    costs = json.loads(acbatch(tmp_path, double, "costs", "--json").stdout)
    assert costs["by_episode"]["tide-pools.en"] == paid
    assert "tide-pools" not in costs["by_episode"]

    # Nothing more to do, and nothing carried twice.
    third = acbatch(tmp_path, double, "run")
    assert third.returncode == 0, third.stderr
    assert creates_by_language(double) - before == {("script", "ja"): 1, ("audio", "ja"): 1}
    (tmp_path / "state" / "tide-pools.en.json").unlink()
    assert plan(tmp_path, double)["tide-pools.en"]["action"] == "create_script"


def test_a_language_whose_script_changed_is_not_carried(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = single_language_show(tmp_path)
    first = acbatch(tmp_path, double, "run")
    assert first.returncode == 0, first.stderr

    # A longer episode at the same time: the English script is another script.
    become_multilingual(config, duration=2)
    planned = plan(tmp_path, double)
    assert {i: e["action"] for i, e in planned.items()} == {
        "tide-pools.en": "create_script",
        "tide-pools.ja": "create_script",
    }
    before = creates_by_language(double)
    second = acbatch(tmp_path, double, "run")
    assert second.returncode == 0, second.stderr
    assert creates_by_language(double) - before == {
        ("script", "en"): 1,
        ("audio", "en"): 1,
        ("script", "ja"): 1,
        ("audio", "ja"): 1,
    }
    state = StateStore(tmp_path / "state").load("tide-pools.en")
    assert state is not None and state.carried_from is None
    former = StateStore(tmp_path / "state").load("tide-pools")
    assert former is not None and former.carried_to is None


def test_an_approved_review_is_carried_with_its_episode(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = single_language_show(tmp_path, review="required")
    assert acbatch(tmp_path, double, "run").returncode == 0
    specs = tmp_path / "specs"
    review_file = specs / "tide-pools.script.yaml"
    edited = yaml.safe_load(review_file.read_text(encoding="utf-8"))
    edited["script"][0]["text"] += " (edited)"
    review_file.write_text(yaml.safe_dump(edited, allow_unicode=True, sort_keys=False), "utf-8")
    approved = acbatch(tmp_path, double, "approve", "tide-pools")
    assert approved.returncode == 0, approved.stderr
    done = acbatch(tmp_path, double, "run")
    assert done.returncode == 0, done.stderr
    assert creates_by_language(double) == {("script", "en"): 1, ("audio", "en"): 1}

    become_multilingual(config)
    planned = plan(tmp_path, double)
    assert planned["tide-pools.en"]["action"] == "done"
    assert planned["tide-pools.ja"]["action"] == "create_script"
    before = creates_by_language(double)
    second = acbatch(tmp_path, double, "run")
    assert second.returncode == 0, second.stderr
    # Japanese writes its script for review; English pays for nothing again.
    assert creates_by_language(double) - before == {("script", "ja"): 1}
    assert phases(tmp_path, double)["tide-pools.en"] == "rendered"

    review = yaml.safe_load((specs / "tide-pools.en.script.yaml").read_text(encoding="utf-8"))
    assert review["episode"] == "tide-pools.en" and review["approved"] is True
    assert any("(edited)" in turn["text"] for turn in review["script"])
    assert not (specs / "tide-pools.script.yaml").exists()
    validated = acbatch(tmp_path, double, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    # Still nothing to pay for English on the next plan.
    assert plan(tmp_path, double)["tide-pools.en"]["action"] == "done"


@pytest.mark.parametrize("point", CARRY_NAMES)
def test_a_kill_while_carrying_over_loses_nothing_and_pays_nothing(
    tmp_path: Path, double: StrictDouble, point: str
) -> None:
    config = single_language_show(tmp_path)
    assert acbatch(tmp_path, double, "run").returncode == 0
    become_multilingual(config)
    before = creates_by_language(double)

    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url}
    crashed = run_acbatch(
        "-C", str(tmp_path), "run", "-j", "1", "tide-pools.en",
        env={**env, "ACBATCH_FAILPOINT": point}, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -9, crashed.stderr
    store = StateStore(tmp_path / "state")
    former = store.load("tide-pools")
    assert former is not None and former.carried_to is None
    saved = store.load("tide-pools.en")
    assert (saved is not None) == (point == "after_carry_save")

    resumed = acbatch(tmp_path, double, "run")
    assert resumed.returncode == 0, resumed.stderr
    assert creates_by_language(double) - before == {("script", "ja"): 1, ("audio", "ja"): 1}
    assert phases(tmp_path, double) == {"tide-pools.en": "rendered", "tide-pools.ja": "rendered"}
    former = store.load("tide-pools")
    assert former is not None and former.carried_to == "tide-pools.en"
    costs = json.loads(acbatch(tmp_path, double, "costs", "--json").stdout)
    assert set(costs["by_episode"]) == {"tide-pools.en", "tide-pools.ja"}


def test_a_carried_episode_whose_audio_is_missing_fetches_it_for_free(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = single_language_show(tmp_path)
    assert acbatch(tmp_path, double, "run").returncode == 0
    shutil.rmtree(tmp_path / "output")
    become_multilingual(config)
    planned = plan(tmp_path, double)
    assert planned["tide-pools.en"]["action"] == "download"
    assert planned["tide-pools.en"]["credits"]["high"] == 0

    before, downloads = creates_by_language(double), len(double.downloads)
    second = acbatch(tmp_path, double, "run")
    assert second.returncode == 0, second.stderr
    assert creates_by_language(double) - before == {("script", "ja"): 1, ("audio", "ja"): 1}
    assert len(double.downloads) - downloads == 2  # the English audio again, and the Japanese
    (audio,) = feed_audio(tmp_path, "en").values()
    assert audio == tmp_path / "output" / "en" / "episodes" / "tide-pools.en" / "tide-pools.en.mp3"
    assert MP3(audio).info.length > 0


class _Site(http.server.SimpleHTTPRequestHandler):
    """The published site: output/ as it was served before the matrix, on loopback."""

    asked: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        self.asked.append(self.path)


def test_audio_gone_from_the_service_comes_from_where_the_site_published_it(
    tmp_path: Path, double: StrictDouble
) -> None:
    root = tmp_path / "show"
    config = single_language_show(root)
    assert acbatch(root, double, "run").returncode == 0
    site = tmp_path / "site"
    shutil.copytree(root / "output", site)
    shutil.rmtree(root / "output")
    former = StateStore(root / "state").load("tide-pools")
    assert former is not None and former.audio.global_id
    double.gone.add(former.audio.global_id)

    handler = functools.partial(_Site, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        become_multilingual(config)
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["show"]["base_url"] = f"http://127.0.0.1:{server.server_address[1]}/"
        config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        before = creates_by_language(double)
        # A loopback base_url is no place to publish: this run does not render.
        second = acbatch(root, double, "run", "--no-render", "tide-pools.en")
        assert second.returncode == 0, second.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert creates_by_language(double) - before == {}
    # The API's original, which the site serves beside the published file.
    assert "/episodes/tide-pools/tide-pools.original.mp3" in _Site.asked
    state = StateStore(root / "state").load("tide-pools.en")
    assert state is not None and state.download is not None
    folder = root / "output" / "en" / "episodes" / "tide-pools.en"
    assert root / state.download.path == folder / "tide-pools.en.original.mp3"
    assert MP3(root / state.download.path).info.length > 0


def test_a_script_awaiting_review_is_carried_and_approved_under_either_name(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = single_language_show(tmp_path, review="required")
    assert acbatch(tmp_path, double, "run").returncode == 0
    assert creates_by_language(double) == {("script", "en"): 1}

    become_multilingual(config)
    assert plan(tmp_path, double)["tide-pools.en"]["action"] == "wait_review"
    # Before the run renames it, the English review file is still tide-pools.script.yaml.
    approved = acbatch(tmp_path, double, "approve", "tide-pools.en")
    assert approved.returncode == 0, approved.stderr
    assert "tide-pools.script.yaml" in approved.stderr
    assert plan(tmp_path, double)["tide-pools.en"]["action"] == "create_audio"

    second = acbatch(tmp_path, double, "run")
    assert second.returncode == 0, second.stderr
    # The English script is not written again: only its audio, and the Japanese script.
    assert creates_by_language(double) == {
        ("script", "en"): 1,
        ("audio", "en"): 1,
        ("script", "ja"): 1,
    }
    assert phases(tmp_path, double) == {
        "tide-pools.en": "rendered",
        "tide-pools.ja": "awaiting_review",
    }
