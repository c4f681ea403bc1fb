"""Nothing sandbox-only reaches a real service: checked against the strict double.

The demo voices.json resolves `ava`/`leo` to ids the double happens to accept, which is exactly
why a live run must be stopped by the catalog check before its first request. After
`acbatch voices import` of a catalog in the reference's format, every speaker id and voice_id
a run sends comes from that catalog, and the double accepts them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from acbatch.api.client import PodcastClient
from acbatch.project.loader import load_project
from acbatch.runner.bodies import audio_request, script_request
from acbatch.voices import VoiceCatalog, live_catalog_problems
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble, catalog_document

ACCOUNT = {"ava": 17827, "leo": 17828, "nora": 17829}


def show(root: Path) -> None:
    write_show(
        root,
        catalog="demo",
        episodes={
            "named": text_episode(1),
            "voiced": text_episode(2, speakers=["nora", "leo"], overrides={"voices": {"A": "ava"}}),
        },
    )


def test_demo_voices_are_refused_before_any_request(tmp_path: Path) -> None:
    show(tmp_path)
    with StrictDouble() as double:
        project = load_project(tmp_path / "acbatch.yaml")
        assert not project.errors  # fine for the sandbox...
        errors = [p for p in live_catalog_problems(project) if p.severity == "error"]
        assert errors  # ...refused for a live run, so no request is ever made
        assert all("acbatch voices import" in p.message for p in errors)
        result = subprocess.run(
            [sys.executable, "-m", "acbatch", "validate", "--live"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={"AUDIOCLEANER_API_BASE": double.url, "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 1 and "TAI Podcast Master" in result.stderr
        assert double.requests == []


def test_after_import_only_the_accounts_ids_and_voice_ids_are_sent(tmp_path: Path) -> None:
    show(tmp_path)
    download = tmp_path / "podcast-voices.json"
    download.write_text(json.dumps(catalog_document(ACCOUNT)), encoding="utf-8")
    imported = subprocess.run(
        [sys.executable, "-m", "acbatch", "voices", "import", str(download)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    project = load_project(tmp_path / "acbatch.yaml")
    assert not project.errors and not live_catalog_problems(project)
    catalog = VoiceCatalog.load(project.config.paths.voices)
    ids = {v.id for v in catalog}
    voice_ids = {v.step2_voice_id for v in catalog}
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as double:
        client = PodcastClient("live-key", double.url)
        for episode in project.episodes:
            body = script_request(episode)
            assert set(body["speakers"]) <= ids
            script_id = client.create_script(body)
            time.sleep(0.06)
            script = client.get_script(script_id)
            assert script.succeeded
            audio = audio_request(episode, script.data, script_id, catalog=catalog)
            sent = {turn["voice_id"] for turn in audio["podcast_script"]} - {""}
            assert sent <= voice_ids
            if episode.id == "voiced":
                assert sent == {catalog.find("ava").step2_voice_id}  # type: ignore[union-attr]
            client.create_audio(audio)
        assert double.created("script") == 2 and double.created("audio") == 2
