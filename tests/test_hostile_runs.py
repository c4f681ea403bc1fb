"""Hostile service answers, broken disks and the API key: what a run does with each."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes
from acbatch.runner.engine import Outcome
from acbatch.runner.session import RunRequest, run_project
from acbatch.runner.state import StateStore
from acbatch.sandbox.faults import FaultPlan
from acbatch.spec.loader import load_project
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
