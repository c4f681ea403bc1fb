"""The sandbox survives restarts (with a state folder) and refuses what the API refuses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from acbatch import codes
from acbatch.api.client import PodcastClient, Task
from acbatch.sandbox.backend import SandboxSettings
from acbatch.sandbox.server import SandboxServer
from acbatch.voices import VoiceCatalog
from tests.conftest import audio_request_from_script
from tests.double import catalog_document

KEY = "state-key"


def script_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_type": 4,
        "speakers": [16098, 16093],
        "style": 2,
        "duration": 1,
        "use_mode": "ai",
        "commercial_use": 0,
        "language": "en",
        "text": "Tides rise and fall twice a day. The moon pulls the oceans toward it.",
    }
    body.update(changes)
    return body


def wait(get: Any, global_id: str, seconds: float = 30.0) -> Task:
    deadline = time.monotonic() + seconds
    while True:
        task = get(global_id)
        if not task.waiting or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def started(state: Path | None = None, port: int = 0, **settings: Any) -> SandboxServer:
    values: dict[str, Any] = {"script_delay": 0.05, "audio_delay": 0.05, "state_dir": state}
    values.update(settings)
    return SandboxServer(SandboxSettings(**values), port=port).start()


def test_tasks_outlive_the_process_and_any_port_serves_them(tmp_path: Path) -> None:
    state = tmp_path / "sandbox-state"
    first = started(state, script_delay=0.2)
    script_id = PodcastClient(KEY, first.url).create_script(script_body())
    first.stop()
    # As a SIGKILL before the work finished leaves it: the task recorded, no result yet.
    record_path = state / "tasks" / f"{script_id}.json"
    record = json.loads(record_path.read_text())
    record.pop("result", None)
    record_path.write_text(json.dumps(record))

    second = started(state)  # on another free port: the task ids do not depend on it
    client = PodcastClient(KEY, second.url)
    script = wait(client.get_script, script_id)
    assert script.succeeded, script.data
    audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
    audio = wait(client.get_audio, audio_id)
    assert audio.succeeded, audio.data
    port = second.port
    second.stop()

    third = started(state, port=port)
    try:
        assert third.url.endswith(f":{port}")
        client = PodcastClient(KEY, third.url)
        again = client.get_audio(audio_id)
        assert again.succeeded
        assert again.data["podcast_script"] == audio.data["podcast_script"]
        # file_url names the server that answers, so it works after every restart.
        assert again.data["file_url"].startswith(third.url + "/sandbox/files/")
        mp3 = requests.get(again.data["file_url"], timeout=10)
        assert mp3.status_code == 200 and mp3.headers["Content-Type"] == "audio/mpeg"
        assert mp3.content == (state / "files" / f"{audio_id}.mp3").read_bytes()
        assert client.get_script(script_id).data["title"] == script.data["title"]
        assert third.stats()["tasks_created"] == {"script": 1, "audio": 1}
        # Another key still cannot see them.
        other = requests.post(
            third.url + codes.AUDIO_GET,
            json={"global_id": audio_id},
            headers={"api-key": "someone-else"},
            timeout=10,
        ).json()
        assert other["code"] == codes.TASK_NOT_FOUND
    finally:
        third.stop()
    records = [json.loads(p.read_text()) for p in (state / "tasks").glob("*.json")]
    assert sorted(r["kind"] for r in records) == ["audio", "script"]
    assert all("result" in r and r["created"] > 0 for r in records)
    assert not list(state.rglob("*.part"))


def test_credits_spent_stay_spent_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "s"
    server = started(state, credits=100)
    client = PodcastClient(KEY, server.url)
    script_id = client.create_script(script_body())
    script = wait(client.get_script, script_id)
    audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
    assert wait(client.get_audio, audio_id).succeeded
    spent = server.stats()["balance"]
    server.stop()
    assert spent < 100
    again = started(state, credits=100)
    try:
        assert again.stats()["balance"] == spent
        PodcastClient(KEY, again.url).get_audio(audio_id)
        assert again.stats()["balance"] == spent  # a task is charged once, ever
    finally:
        again.stop()


def post(server: SandboxServer, path: str, body: Any, **headers: str) -> requests.Response:
    sent = {"api-key": KEY, "Content-Type": "application/json", **headers}
    sent = {k: v for k, v in sent.items() if v}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server.url + path, data=data, headers=sent, timeout=10)


@pytest.fixture
def strict(tmp_path: Path) -> Any:
    server = started()
    yield server
    server.stop()


def test_content_type_must_be_json(strict: SandboxServer) -> None:
    for content_type in ("", "text/plain", "application/x-www-form-urlencoded"):
        answer = post(strict, codes.SCRIPT_CREATE, script_body(), **{"Content-Type": content_type})
        assert answer.status_code == 415, content_type
    ok = post(strict, codes.SCRIPT_CREATE, script_body(), **{"Content-Type": "application/json"})
    assert ok.json()["code"] == codes.SUCCESS
    assert strict.stats()["tasks_created"] == {"script": 1}


@pytest.mark.parametrize(
    "changes",
    [
        {"speakers": [16098, 99999]},
        {"speakers": ["16098"]},
        {"style": "2"},
        {"duration": 1.0},
        {"commercial_use": False},
        {"language": "Japanese"},
        {"text": 42},
    ],
)
def test_script_create_refuses_what_the_api_refuses(
    strict: SandboxServer, changes: dict[str, Any]
) -> None:
    answer = post(strict, codes.SCRIPT_CREATE, script_body(**changes))
    assert answer.status_code == 400
    assert answer.json()["code"] != codes.SUCCESS
    assert strict.stats()["tasks_created"] == {}


def test_audio_create_needs_a_finished_script_of_the_same_key(strict: SandboxServer) -> None:
    client = PodcastClient(KEY, strict.url)
    script_id = client.create_script(script_body())
    script = wait(client.get_script, script_id)
    body = audio_request_from_script(script.data, script_id)
    unknown = post(strict, codes.AUDIO_CREATE, {**body, "global_id": "0" * 36})
    foreign = post(strict, codes.AUDIO_CREATE, body, **{"api-key": "another-key"})
    broken_turn = dict(body, podcast_script=[{"role": "A", "text": "Hi.", "voice_id": 7}])
    wrong_type = post(strict, codes.AUDIO_CREATE, broken_turn)
    bad_highlight = post(strict, codes.AUDIO_CREATE, dict(body, hightlights=["chapter one"]))
    for answer in (unknown, foreign, wrong_type, bad_highlight):
        assert answer.status_code == 400, answer.text
    assert strict.stats()["tasks_created"] == {"script": 1}
    assert post(strict, codes.AUDIO_CREATE, body).json()["code"] == codes.SUCCESS


def test_a_users_catalog_is_accepted_and_voiced_offline(tmp_path: Path) -> None:
    document = catalog_document({"maria": 17827, "jon": 17828, "eva": 17829})
    catalog = VoiceCatalog.from_document(document)
    server = started(catalog=catalog)
    try:
        client = PodcastClient(KEY, server.url)
        refused = post(server, codes.SCRIPT_CREATE, script_body())  # demo ids: not this account
        assert refused.status_code == 400
        script_id = client.create_script(script_body(speakers=[17827, 17828, 17829]))
        script = wait(client.get_script, script_id)
        voice_ids = {turn["voice_id"] for turn in script.data["podcast_script"]}
        assert voice_ids == {v.step2_voice_id for v in catalog}
        names = {turn["name"] for turn in script.data["podcast_script"]}
        assert names == {"Maria", "Jon", "Eva"}
        audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
        assert wait(client.get_audio, audio_id).succeeded
        served = requests.get(server.url + "/sandbox/voices.json", timeout=10).json()
        assert served == document | {"message": "Request Success"}
    finally:
        server.stop()


def test_a_killed_sandbox_command_resumes_on_its_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def launch() -> tuple[subprocess.Popen[str], str]:
        delays = ["--script-delay", "0.3", "--audio-delay", "0.3"]
        process = subprocess.Popen(
            [sys.executable, "-m", "acbatch", "sandbox", "--state", str(state), *delays],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        return process, process.stdout.readline().strip()

    process, url = launch()
    try:
        client = PodcastClient(KEY, url)
        script_id = client.create_script(script_body())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    process, url = launch()
    try:
        client = PodcastClient(KEY, url)
        script = wait(client.get_script, script_id)
        assert script.succeeded, script.data
        audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
        audio = wait(client.get_audio, audio_id)
        assert audio.succeeded and audio.data["file_url"].startswith(url)
        stats = requests.get(url + "/sandbox/stats", timeout=10).json()
        assert stats["tasks_created"] == {"script": 1, "audio": 1}
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def test_youtube_sources_get_a_marked_deterministic_stand_in(strict: SandboxServer) -> None:
    client = PodcastClient(KEY, strict.url)
    url = "https://www.youtube.com/shorts/4QenPnBk99M"
    body = script_body(source_type=2, url=url, duration=2)
    del body["text"]
    first, second = (wait(client.get_script, client.create_script(body)) for _ in range(2))
    assert first.succeeded and second.succeeded
    keys = ("title", "podcast_script", "hightlights", "processed_content")
    assert {k: first.data[k] for k in keys} == {k: second.data[k] for k in keys}
    assert first.data["title"] == "YouTube video 4QenPnBk99M (sandbox stand-in)"
    assert first.data["source_data"] == url
    assert first.data["train_data"].startswith("Offline stand-in")
    assert "cannot watch or transcribe" in first.data["podcast_script_txt"]
    other = dict(body, url="https://youtu.be/dQw4w9WgXcQ?t=42")
    third = wait(client.get_script, client.create_script(other))
    assert "dQw4w9WgXcQ" in third.data["title"]
    audio_id = client.create_audio(audio_request_from_script(first.data, first.global_id))
    assert wait(client.get_audio, audio_id).succeeded


@pytest.mark.parametrize("language", sorted(codes.LANGUAGES))
def test_youtube_stand_in_in_every_language(language: str) -> None:
    from acbatch.sandbox.scriptwriter import write_script, youtube_stand_in

    text = youtube_stand_in("https://www.youtube.com/watch?v=4QenPnBk99M&list=x", language)
    result = write_script(
        text, style=1, duration=1, language=language, speakers=[None, None], source_data=""
    )
    assert "4QenPnBk99M" in result["title"] and len(result["title"]) <= 60
    assert not result["title"].endswith("…")
    assert text == youtube_stand_in("https://www.youtube.com/watch?v=4QenPnBk99M", language)


def test_damaged_or_foreign_files_in_the_state_folder_are_skipped(tmp_path: Path) -> None:
    state = tmp_path / "s"
    server = started(state)
    client = PodcastClient(KEY, server.url)
    script_id = client.create_script(script_body())
    assert wait(client.get_script, script_id).succeeded
    server.stop()
    (state / "tasks" / "half-written.json").write_text('{"kind": "scr', encoding="utf-8")
    (state / "tasks" / "other.json").write_text('{"kind": "script"}', encoding="utf-8")
    (state / "tasks" / "list.json").write_text("[1, 2]", encoding="utf-8")
    again = started(state)
    try:
        assert PodcastClient(KEY, again.url).get_script(script_id).succeeded
        assert again.stats()["tasks"] == 1
    finally:
        again.stop()


def test_an_old_file_url_is_rebased_on_the_current_sandbox() -> None:
    from acbatch.sandbox.backend import rebase_file_url

    old = "http://127.0.0.1:42757/sandbox/files/29a820e8-31ec-4502-859d-883be108d1e0.mp3"
    assert rebase_file_url(old, "http://127.0.0.1:44155/") == (
        "http://127.0.0.1:44155/sandbox/files/29a820e8-31ec-4502-859d-883be108d1e0.mp3"
    )
    real = "https://resource.audiocleaner.ai/paid/output/result/xxx_final.mp3"
    assert rebase_file_url(real, "http://127.0.0.1:44155") == real
