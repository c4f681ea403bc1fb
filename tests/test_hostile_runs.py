"""Hostile service answers, broken disks and the API key: what a run does with each."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes
from acbatch.project.loader import load_project
from acbatch.runner.batch import RunRequest, run_project
from acbatch.runner.engine import Outcome
from acbatch.runner.state import StateStore
from acbatch.sandbox.faults import FaultPlan
from tests.conftest import text_episode, write_show
from tests.hostile import HostileServer, Reply, Seen

KEY = "sk-RECOGNISABLE-SECRET-5150"


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", KEY)


def script_result() -> dict[str, Any]:
    return {
        "status": "success",
        "global_id": "s-1",
        "title": "<script>alert(1)</script> ]]> & 🎙️",
        "processed_content": "Summary \x07 with a bell",
        "podcast_script": [{"role": "A", "name": "Ava", "text": "Hello <b>there</b>"}],
        "hightlights": [],
    }


def fake_service(audio: dict[str, Any], served: Reply | None = None) -> HostileServer:
    """A service that finishes every task at once; the audio result is the test's."""

    def answer(seen: Seen) -> Reply:
        if seen.path == codes.SCRIPT_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "s-1"}})
        if seen.path == codes.SCRIPT_GET:
            return Reply(body={"code": 100000, "data": script_result()})
        if seen.path == codes.AUDIO_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "a-1"}})
        if seen.path == codes.AUDIO_GET:
            return Reply(
                body={"code": 100000, "data": {"status": "success", "global_id": "a-1", **audio}}
            )
        return served or Reply(status=404, body=b"")

    return HostileServer(answer)


def run_against(tmp_path: Path, url: str) -> Any:
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    project = load_project(config)
    return run_project(project, RunRequest(base_url=url, render=False, poll_initial=0.01))


def files_outside(root: Path) -> list[Path]:
    allowed = {"acbatch.yaml", "voices.json", "cover.png", ".acbatch.lock"}
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name not in allowed
        and not p.is_relative_to(root / "specs")
        and not p.is_relative_to(root / "state")
        and not p.is_relative_to(root / "output")
    ]


@pytest.mark.parametrize(
    ("file_url", "served", "step", "expected"),
    [
        ("file:///etc/passwd", None, "audio", "http(s)"),
        ("ftp://example.com/a.mp3", None, "audio", "http(s)"),
        (
            "{url}/page.html",
            Reply(body=b"<html>hi</html>", content_type="text/html"),
            "download",
            "text/html",
        ),
        (
            "{url}/fake.mp3",
            Reply(body=b"not audio at all" * 100, content_type="audio/mpeg"),
            "download",
            "not MPEG",
        ),
        (
            "{url}/huge.mp3",
            Reply(body=b"\xff" * (2 * 1024 * 1024), content_type="audio/mpeg"),
            "download",
            "limit",
        ),
        ("{url}/missing.mp3", Reply(status=404, body=b""), "download", "404"),
    ],
)
def test_bad_audio_answers_fail_clearly_and_write_nothing_outside(
    tmp_path: Path, keyed: None, file_url: str, served: Reply | None, step: str, expected: str
) -> None:
    urls: dict[str, str] = {}
    with fake_service({"file_url": ""}, served) as server:
        urls["file"] = file_url.format(url=server.url)
        inner = server.responder

        def answer(seen: Seen) -> Reply:
            if seen.path == codes.AUDIO_GET:
                data = {"status": "success", "global_id": "a-1", "file_url": urls["file"]}
                return Reply(body={"code": 100000, "data": data})
            return inner(seen)

        server.responder = answer
        config = write_show(
            tmp_path, {"ep-1": text_episode(1)}, api={"download_max_bytes": 1024 * 1024}
        )
        request = RunRequest(base_url=server.url, render=False, poll_initial=0.01)
        result = run_project(load_project(config), request)
    outcome = result.summary.results[0]
    # An answer acbatch cannot use is not the service saying the task failed: the task is
    # kept for the next run, never paid for again.
    assert outcome.outcome == (Outcome.KEPT if step == "audio" else Outcome.FAILED)
    assert expected in outcome.message
    state = StateStore(tmp_path / "state").load("ep-1")
    assert state.error["step"] == step
    assert not list((tmp_path / "output").rglob("*.mp3"))
    assert not list((tmp_path / "output").rglob("*.part"))
    assert files_outside(tmp_path) == []


def test_a_task_id_with_path_characters_is_refused(tmp_path: Path, keyed: None) -> None:
    def answer(seen: Seen) -> Reply:
        return Reply(body={"code": 100000, "data": {"global_id": "../../../etc/cron.d/x"}})

    with HostileServer(answer) as server:
        result = run_against(tmp_path, server.url)
    assert result.summary.results[0].outcome == Outcome.UNCERTAIN
    assert files_outside(tmp_path) == []
    assert not (tmp_path / "etc").exists()


@pytest.mark.slow
def test_the_key_never_appears_in_logs_state_output_or_errors(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    server = sandbox_factory(
        faults=FaultPlan(fail_task=0.3, error_rates={codes.RATE_LIMITED: 0.2}, seed=5),
        synthesize=False,
    )
    env = {**os.environ, "AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": server.url}
    write_show(tmp_path, {f"ep-{i}": text_episode(i) for i in range(1, 7)})
    outputs = []
    for args in (["-v", "run", "--json"], ["run", "--json"], ["status", "--json"], ["plan"]):
        done = subprocess.run(
            [sys.executable, "-m", "acbatch", "-C", str(tmp_path), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs += [done.stdout, done.stderr]
    bad_key_env = {**env, "AUDIOCLEANER_API_KEY": KEY + "-wrong"}
    server.backend.settings.keys = frozenset({"only-this-one"})
    (tmp_path / "specs" / "ep-new.yaml").write_text(json.dumps(text_episode(99)))
    refused = subprocess.run(
        [sys.executable, "-m", "acbatch", "-v", "-C", str(tmp_path), "run"],
        env=bad_key_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 1 and "Invalid API key" in refused.stderr
    outputs += [refused.stdout, refused.stderr]
    for text in outputs:
        assert KEY not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert any("failed" in text for text in outputs), "the drill should include failures"


@contextlib.contextmanager
def tiny_filesystem(folder: Path, size: str = "256k") -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        if os.geteuid() == 0 and os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the disk-fault drill: {mounted.stderr!r}")
        pytest.skip("mounting a small filesystem needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_stops_the_run_cleanly_and_keeps_the_previous_state(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1), "ep-2": text_episode(2)})
    with tiny_filesystem(tmp_path / "state"):
        run_project(
            load_project(config),
            RunRequest(ids=("ep-1",), base_url=server.url, render=False, poll_initial=0.01),
        )
        before = (tmp_path / "state" / "ep-1.json").read_bytes()
        filler = tmp_path / "state" / "filler.bin"
        with contextlib.suppress(OSError), open(filler, "wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
        result = run_project(
            load_project(config), RunRequest(base_url=server.url, render=False, poll_initial=0.01)
        )
        assert result.summary.exit_code == 1
        assert result.summary.aborted and "no space left" in result.summary.aborted
        assert (tmp_path / "state" / "ep-1.json").read_bytes() == before
        assert not list((tmp_path / "state").glob(".*.tmp"))
        filler.unlink()


def test_a_read_only_state_folder_is_a_clear_error(
    tmp_path: Path, sandbox_factory: Any, keyed: None
) -> None:
    server = sandbox_factory(synthesize=False)
    config = write_show(tmp_path, {"ep-1": text_episode(1)})
    with tiny_filesystem(tmp_path / "state"):
        run_project(
            load_project(config), RunRequest(base_url=server.url, render=False, poll_initial=0.01)
        )
        before = (tmp_path / "state" / "ep-1.json").read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(tmp_path / "state")], check=True)
        spec = tmp_path / "specs" / "ep-1.yaml"
        spec.write_text(spec.read_text().replace("tide pools", "rock pools"))
        result = run_project(
            load_project(config), RunRequest(base_url=server.url, render=False, poll_initial=0.01)
        )
        assert result.summary.exit_code == 1
        assert "read-only" in (result.summary.aborted or "")
        assert (tmp_path / "state" / "ep-1.json").read_bytes() == before
        assert server.stats()["tasks_created"] == {"script": 1, "audio": 1}


# -- a canary key through every path, and text that could fool a terminal ------------------------

CANARY = "sk-canary/5150+x=y"
"""Spelled differently raw, URL-encoded, form-encoded and repr'd, so each spelling is tested."""


def canary_spellings() -> list[bytes]:
    from urllib.parse import quote, quote_plus

    forms = {CANARY, quote(CANARY, safe=""), quote_plus(CANARY), repr(CANARY)[1:-1]}
    spelled = [form.encode() for form in forms]
    return spelled + [form.encode("utf-16-le") for form in forms]  # ID3 text frames


def echoing_service() -> HostileServer:
    """A service that echoes the key, terminal escapes, bidi overrides and a lone surrogate in
    every field of every answer; episode 1 succeeds, 2's task fails, 3's create is refused."""
    from urllib.parse import quote, quote_plus

    from tests.double import tone_mp3

    mp3 = tone_mp3(1.0)
    urls: dict[str, str] = {}

    def answer(seen: Seen) -> Reply:
        key = seen.headers.get("api-key", "")
        echo = (
            f"{key} {quote(key, safe='')} {quote_plus(key)} {key!r} "
            "\x1b]0;pwned\x07 \u202eevil\u202c \ud800"
        )
        body = json.loads(seen.body or b"{}")
        if seen.path.startswith("/a.mp3"):
            return Reply(body=mp3, content_type="audio/mpeg")
        if seen.path == codes.SCRIPT_CREATE:
            number = body["text"].split()[1]
            if number == "3":
                return Reply(body={"code": 777777, "message": f"refused: {echo}"})
            return Reply(body={"code": 100000, "data": {"global_id": f"s-{number}", "x": echo}})
        if seen.path == codes.SCRIPT_GET:
            gid = body["global_id"]
            if gid == "s-2":
                data = {"status": "failed", "global_id": gid, "message": f"no: {echo}"}
                return Reply(body={"code": 100000, "data": data})
            data = {
                "status": "success",
                "global_id": gid,
                "title": f"Title {echo}",
                "processed_content": f"Summary {echo}",
                "podcast_script": [
                    {"role": "A", "name": "Ava", "text": f"Hello {echo}"},
                    {"role": "B", "name": "Leo", "text": f"Bye {key}"},
                ],
                "hightlights": [{"title": echo, "time": 0}],
            }
            return Reply(body={"code": 100000, "data": data})
        if seen.path == codes.AUDIO_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "a-1", "echo": echo}})
        if seen.path == codes.AUDIO_GET:
            file_url = f"{urls['base']}/a.mp3?api_key={quote(key, safe='')}&sig=1"
            data = {"status": "success", "global_id": "a-1", "file_url": file_url, "m": echo}
            return Reply(body={"code": 100000, "data": data})
        return Reply(status=404, body=b"")

    server = HostileServer(answer)
    urls["base"] = server.url
    return server


def test_a_canary_key_echoed_everywhere_never_shows_or_lands_anywhere(tmp_path: Path) -> None:
    root = tmp_path / "show"
    api = {"jobs": 2, "polling": {"initial": 0.05, "max_interval": 0.2}}
    write_show(root, {f"ep-{i}": text_episode(i) for i in (1, 2, 3)}, api=api)
    outputs: list[str] = []
    with echoing_service() as server:
        env = {**os.environ, "AUDIOCLEANER_API_KEY": CANARY, "AUDIOCLEANER_API_BASE": server.url}
        for args in (
            ["-v", "run", "--json"],
            ["-v", "run"],
            ["status"],
            ["status", "--json"],
            ["plan", "--json"],
            ["render"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "acbatch", "-C", str(root), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            outputs += [done.stdout, done.stderr]
            assert "Traceback" not in done.stderr, done.stderr
    state = StateStore(root / "state")
    assert state.load("ep-1").phase.value == "rendered"
    assert "no:" in (state.load("ep-2").error or {}).get("message", "")
    assert list((root / "output").rglob("*.mp3")), "the drill must publish an episode"
    audio_requests = [seen.path for seen in server.seen if seen.path.startswith("/a.mp3")]
    assert audio_requests and all("api_key" not in path for path in audio_requests)
    spellings = canary_spellings()
    for text in outputs:
        for form in spellings[:4]:
            assert form.decode() not in text
        assert "\x1b]0" not in text and "\u202e" not in text and "\x07" not in text
    checked = 0
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            checked += 1
            for form in spellings:
                assert form not in data, (path, form)
    assert checked > 10
    stored = json.loads((root / "state" / "ep-1.json").read_text(encoding="utf-8"))
    assert "api_key" not in stored["download"]["url"] and "sig=1" in stored["download"]["url"]


@pytest.mark.parametrize("bad_key", ["sk-line\nbreak-5150", "sk-ключ-5150"])
def test_a_key_that_cannot_be_a_header_is_refused_before_any_request(
    tmp_path: Path, bad_key: str
) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    with fake_service({"file_url": ""}) as server:
        env = {**os.environ, "AUDIOCLEANER_API_KEY": bad_key, "AUDIOCLEANER_API_BASE": server.url}
        outputs = []
        for args in (["run"], ["-v", "doctor"]):
            done = subprocess.run(
                [sys.executable, "-m", "acbatch", "-C", str(tmp_path), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode != 0
            assert "Traceback" not in done.stderr + done.stdout
            outputs.append(done.stdout + done.stderr)
    assert server.seen == []
    assert "the API key cannot be sent" in outputs[0]
    assert "the API key cannot be sent" in outputs[1]
    state = StateStore(tmp_path / "state").load("ep-1")
    assert state.phase.value != "uncertain"
    for text in outputs:
        assert bad_key not in text and repr(bad_key)[1:-1] not in text


# -- trickling and oversized answers in a run -----------------------------------------------------

SMALL_LIMITS = {"timeouts": {"connect": 1, "read": 1.5}, "polling": {"initial": 0.05}}


@pytest.mark.slow
def test_a_trickling_status_answer_times_out_within_the_poll_deadline(
    tmp_path: Path, keyed: None
) -> None:
    from tests.test_bounds import SLACK, trickle

    def answer(seen: Seen) -> Reply:
        if seen.path == codes.SCRIPT_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "s-1"}})
        return Reply(stream=trickle(every=0.5))

    api = {**SMALL_LIMITS, "polling": {"initial": 0.05, "deadline": 3}}
    config = write_show(tmp_path, {"ep-1": text_episode(1)}, api=api)
    with HostileServer(answer) as server:
        started = time.monotonic()
        result = run_project(
            load_project(config),
            RunRequest(base_url=server.url, render=False, poll_initial=0.05),
        )
        elapsed = time.monotonic() - started
    # The poll deadline, plus one request cut off at its limit (connect + read), plus slack.
    assert elapsed < 3 + 2.5 + SLACK
    outcome = result.summary.results[0]
    assert outcome.outcome == Outcome.TIMED_OUT
    assert "limit" in outcome.message
    assert StateStore(tmp_path / "state").load("ep-1").phase.value == "timed_out"


def test_a_trickling_create_answer_is_uncertain_within_its_limit(
    tmp_path: Path, keyed: None
) -> None:
    from tests.test_bounds import SLACK, trickle

    config = write_show(tmp_path, {"ep-1": text_episode(1)}, api=SMALL_LIMITS)
    with HostileServer(lambda seen: Reply(stream=trickle(every=0.5))) as server:
        started = time.monotonic()
        result = run_project(load_project(config), RunRequest(base_url=server.url, render=False))
        elapsed = time.monotonic() - started
    assert elapsed < 2.5 + SLACK
    outcome = result.summary.results[0]
    assert outcome.outcome == Outcome.UNCERTAIN and "limit" in outcome.message
    assert "--retry-uncertain" in outcome.message


@pytest.mark.parametrize("kind", ["endless-json", "gzip-bomb", "100MB-field"])
def test_hostile_status_bodies_in_a_run_stay_under_300_mb(tmp_path: Path, kind: str) -> None:
    from tests.test_bounds import endless_json, gzip_bomb, huge_field, run_measured

    hostile = {
        "endless-json": Reply(stream=endless_json),
        "gzip-bomb": Reply(headers={"Content-Encoding": "gzip"}, stream=gzip_bomb),
        "100MB-field": Reply(stream=huge_field(100)),
    }[kind]

    def answer(seen: Seen) -> Reply:
        if seen.path == codes.SCRIPT_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "s-1"}})
        return hostile

    write_show(tmp_path, {"ep-1": text_episode(1)}, api=SMALL_LIMITS)
    with HostileServer(answer) as server:
        code, output, _elapsed, peak_mb = run_measured(
            [
                sys.executable,
                "-c",
                "import os, sys; from acbatch.cli import main; "
                "os.environ['AUDIOCLEANER_API_KEY'] = 'sk-rss-5150'; "
                f"os.environ['AUDIOCLEANER_API_BASE'] = {server.url!r}; "
                f"main(['-C', {str(tmp_path)!r}, 'run'])",
            ]
        )
    assert code == 1, output
    assert "Traceback" not in output
    assert "limit" in output, output
    assert peak_mb < 300, f"peak RSS {peak_mb} MB"
    state = StateStore(tmp_path / "state").load("ep-1")
    assert state.phase.value in ("failed", "timed_out", "script_requested")
    assert state.script.global_id == "s-1"  # the paid task is kept: nothing is paid twice
    assert (tmp_path / "state" / "ep-1.json").stat().st_size < 100_000


def test_the_answer_limits_in_acbatch_yaml_reach_the_client(tmp_path: Path, keyed: None) -> None:
    data = {**script_result(), "processed_content": "x" * 5000}

    def answer(seen: Seen) -> Reply:
        if seen.path == codes.SCRIPT_CREATE:
            return Reply(body={"code": 100000, "data": {"global_id": "s-1"}})
        return Reply(body={"code": 100000, "data": data})

    api = {**SMALL_LIMITS, "max_field_chars": 1000}
    config = write_show(tmp_path, {"ep-1": text_episode(1)}, api=api)
    with HostileServer(answer) as server:
        result = run_project(
            load_project(config), RunRequest(base_url=server.url, render=False, poll_initial=0.05)
        )
    outcome = result.summary.results[0]
    # The answer cannot be used, but the service never said the task failed: it is kept, to be
    # polled again (for free) by the next run, and nothing is paid twice.
    assert outcome.outcome == Outcome.KEPT
    assert "1000-character limit" in outcome.message
