"""The command line end to end: real processes, a real sandbox, no mocks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes
from tests.conftest import acbatch, text_episode, write_show

REFERENCE = Path(__file__).parent / "data" / "audiocleaner-podcast-api.txt"


def curl_examples() -> list[tuple[str, dict[str, Any]]]:
    """(endpoint, body) for every curl example in the reference documentation."""
    text = REFERENCE.read_text(encoding="utf-8")
    found = []
    for url, body in re.findall(
        r"curl --location --request POST '([^']+)'.*?--data-raw '(.*?)'", text, re.S
    ):
        found.append((url.replace("https://audiocleaner.ai", ""), json.loads(body)))
    assert [e for e, _ in found] == list(codes.ENDPOINTS)
    return found


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_sandbox_starts_fast_and_answers_the_reference_curl_examples() -> None:
    started = time.monotonic()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acbatch",
            "sandbox",
            "--port",
            "0",
            "--script-delay",
            "0",
            "--audio-delay",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        assert time.monotonic() - started < 2.0
        assert url.startswith("http://127.0.0.1:")

        def curl(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
            out = subprocess.run(
                [
                    "curl",
                    "-s",
                    "--location",
                    "--request",
                    "POST",
                    url + endpoint,
                    "--header",
                    "Content-Type: application/json",
                    "--header",
                    "api-key: YOUR_API_KEY",
                    "--data-raw",
                    json.dumps(body),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            return json.loads(out.stdout)

        examples = dict(curl_examples())
        created = curl(codes.SCRIPT_CREATE, examples[codes.SCRIPT_CREATE])
        assert created["code"] == 100000 and created["message"] == "Request Success"
        script_id = created["data"]["global_id"]
        for _ in range(200):
            script = curl(codes.SCRIPT_GET, {"global_id": script_id})
            if script["data"]["status"] != "waiting":
                break
            time.sleep(0.05)
        assert script["data"]["status"] == "success"
        assert script["data"]["global_id"] == script_id
        audio_body = dict(examples[codes.AUDIO_CREATE], global_id=script_id)
        audio = curl(codes.AUDIO_CREATE, audio_body)
        assert audio["code"] == 100000
        audio_id = audio["data"]["global_id"]
        for _ in range(400):
            result = curl(codes.AUDIO_GET, {"global_id": audio_id})
            if result["data"]["status"] != "waiting":
                break
            time.sleep(0.05)
        assert result["data"]["status"] == "success"
        assert result["data"]["file_url"].startswith(url + "/sandbox/files/")
        missing = curl(codes.SCRIPT_GET, examples[codes.SCRIPT_GET])
        assert missing == {"code": 101008, "data": None, "message": "Task not found"}
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "not the real service" in err


@pytest.mark.slow
def test_run_status_plan_through_the_cli(tmp_path: Path) -> None:
    write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 3)})
    plan = acbatch("plan", "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert [e["action"] for e in planned["episodes"]] == ["create_script", "create_script"]
    assert planned["totals"]["credits"] == {"low": 20, "high": 20}
    assert planned["totals"]["billed_step"] == "audio"

    first = acbatch("run", "--sandbox", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["outcomes"] == {"done": 2}
    assert summary["requests"] >= 8
    feed = tmp_path / "sandbox" / "output" / "feed.xml"
    assert feed.is_file()
    assert not (tmp_path / "output").exists(), "sandbox output is kept apart"

    again = acbatch("run", "--sandbox", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["requests"] == 0

    status = acbatch("status", "--sandbox", "--json", cwd=tmp_path)
    rows = json.loads(status.stdout)["episodes"]
    assert {r["phase"] for r in rows} == {"rendered"}
    assert all(r["script_task"] and r["audio_task"] for r in rows)
    assert json.loads(status.stdout)["credits_charged"] == sum(r["credits_charged"] for r in rows)

    plan = acbatch("plan", "--sandbox", "--json", cwd=tmp_path)
    assert {e["action"] for e in json.loads(plan.stdout)["episodes"]} == {"done"}
    assert not (tmp_path / "state" / "ep-1.json").exists(), "sandbox state is kept apart"


def test_run_refuses_invalid_specs_and_changes_nothing(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1, stlye="interview")})
    result = acbatch("run", "--sandbox", cwd=tmp_path)
    assert result.returncode == 1
    assert "ep-1.yaml" in result.stderr and "stlye" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists() and not (tmp_path / "output").exists()


def test_without_a_key_new_work_is_refused_clearly(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    result = acbatch("run", cwd=tmp_path)
    assert result.returncode == 1
    assert "AUDIOCLEANER_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_finished_project_needs_no_key(tmp_path: Path, sandbox_factory: Any) -> None:
    server = sandbox_factory(synthesize=False)
    write_show(tmp_path, {"ep-1": text_episode(1)})
    env = {"AUDIOCLEANER_API_KEY": "first-run-key", "AUDIOCLEANER_API_BASE": server.url}
    assert acbatch("run", cwd=tmp_path, env=env).returncode == 0
    before = server.stats()["requests"]
    rerun = acbatch("run", "--json", cwd=tmp_path, env={"AUDIOCLEANER_API_BASE": server.url})
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["requests"] == 0
    assert server.stats()["requests"] == before


@pytest.mark.slow
def test_review_and_approve_through_the_cli(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1, review="required")})
    first = acbatch("run", "--sandbox", "--json", cwd=tmp_path)
    assert json.loads(first.stdout)["outcomes"] == {"awaiting_review": 1}
    assert (tmp_path / "sandbox" / "reviews" / "ep-1.script.yaml").is_file()
    assert not (tmp_path / "specs" / "ep-1.script.yaml").exists(), "sandbox reviews kept apart"
    plan = json.loads(acbatch("plan", "--sandbox", "--json", cwd=tmp_path).stdout)
    assert plan["episodes"][0]["action"] == "wait_review"
    approved = acbatch("approve", "--sandbox", "ep-1", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    done = acbatch("run", "--sandbox", "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["outcomes"] == {"done": 1}


def test_voices_lists_and_filters_the_catalog(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    result = acbatch("voices", "--language", "ja", "--json", cwd=tmp_path)
    records = json.loads(result.stdout)["voices"]
    assert {r["name"] for r in records} >= {"yui", "haruto"}
    assert {r["language"] for r in records} == {"ja"}
    female = acbatch("voices", "--language", "en", "--gender", "female", cwd=tmp_path)
    assert "ava" in female.stdout and "leo" not in female.stdout


def test_doctor_checks_the_key_with_a_read_only_call(tmp_path: Path, sandbox_factory: Any) -> None:
    server = sandbox_factory(keys=frozenset({"good-key-1"}))
    write_show(tmp_path, {"ep-1": text_episode(1)})
    env = {"AUDIOCLEANER_API_BASE": server.url}
    good = acbatch(
        "doctor", "--json", cwd=tmp_path, env={**env, "AUDIOCLEANER_API_KEY": "good-key-1"}
    )
    assert good.returncode == 0, good.stdout
    checks = {c["check"]: c for c in json.loads(good.stdout)["checks"]}
    assert checks["api key"]["ok"] and checks["sandbox speech"]["ok"]
    assert server.stats()["tasks_created"] == {}
    bad = acbatch("doctor", cwd=tmp_path, env={**env, "AUDIOCLEANER_API_KEY": "bad-key-2"})
    assert (
        bad.returncode == 1 and "rejected (101002)" in bad.stdout and "bad-key-2" not in bad.stdout
    )
    missing = acbatch("doctor", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "AUDIOCLEANER_API_KEY is not set" in missing.stdout


def test_plan_shows_the_source_text_the_script_step_will_be_sent(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Octopus minds</title></head><body>"
        "<div class='cookie-banner'>We use cookies. Accept all cookies to continue.</div>"
        "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        "<article><h1>Octopus minds</h1>"
        + "".join(
            f"<p>Octopuses solve puzzles number {i} with arms that each hold many neurons.</p>"
            for i in range(8)
        )
        + "</article><footer>Share on every network. Copyright 2026.</footer></body></html>"
    )
    (tmp_path / "sources").mkdir(parents=True)
    (tmp_path / "sources" / "octopus.html").write_text(page, encoding="utf-8")
    write_show(tmp_path, {"octopus": {"source": {"file": "../sources/octopus.html"}}})
    shown = acbatch("plan", "--show-source", "octopus", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Octopuses solve puzzles number 7" in shown.stdout
    assert "cookies" not in shown.stdout and "Share on every network" not in shown.stdout
    assert "characters would be sent" in shown.stderr
