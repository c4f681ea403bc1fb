"""The Podcast API client against real servers on loopback: the sandbox and a hostile one."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from acbatch import codes
from acbatch.api import errors
from acbatch.api.client import USER_AGENT, PodcastClient
from acbatch.sandbox.faults import FaultPlan
from tests.conftest import audio_request_from_script
from tests.hostile import HostileServer, Reply, Seen

KEY = "sk-live-SECRET-0123456789"

SCRIPT_BODY: dict[str, Any] = {
    "source_type": 4,
    "speakers": [16098, 16093],
    "style": 2,
    "duration": 1,
    "use_mode": "ai",
    "commercial_use": 0,
    "language": "en",
    "text": "Tide pools are small worlds. Sea stars cling to rocks. Crabs hide at low tide.",
}


def wait_for(client: PodcastClient, get: str, global_id: str) -> Any:
    import time

    for _ in range(400):
        task = getattr(client, get)(global_id)
        if not task.waiting:
            return task
        time.sleep(0.02)
    raise AssertionError("task never finished")


def test_both_steps_through_the_sandbox(sandbox: Any) -> None:
    client = PodcastClient(KEY, sandbox.url)
    script_id = client.create_script(SCRIPT_BODY)
    script = wait_for(client, "get_script", script_id)
    assert script.succeeded
    assert script.data["podcast_script"] and script.data["title"]
    audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
    audio = wait_for(client, "get_audio", audio_id)
    assert audio.succeeded and audio.data["file_url"].startswith(sandbox.url)
    assert sandbox.stats()["tasks_created"] == {"script": 1, "audio": 1}


def test_step2_body_follows_the_faq() -> None:
    result = {
        "title": "T",
        "processed_content": "P",
        "podcast_script": [{"role": "A", "text": "hi"}],
        "hightlights": [{"highlight": "h", "script_start_index": 0, "script_end_index": 0}],
        "podcast_script_txt": "ignored",
    }
    body = audio_request_from_script(result, "gid-1")
    assert body == {
        "title": "T",
        "processed_content": "P",
        "podcast_script": result["podcast_script"],
        "hightlights": result["hightlights"],
        "global_id": "gid-1",
    }


# Every documented code, the exception it becomes, and how the sandbox is made to answer it.
CODE_CASES = [
    (codes.INSUFFICIENT_CREDITS, errors.InsufficientCredits, codes.SCRIPT_CREATE),
    (codes.INVALID_KEY, errors.InvalidApiKey, codes.SCRIPT_GET),
    (codes.RATE_LIMITED, errors.RateLimited, codes.AUDIO_CREATE),
    (codes.CONCURRENCY_LIMITED, errors.ConcurrencyLimited, codes.AUDIO_GET),
    (codes.SUSPENDED, errors.AccountSuspended, codes.SCRIPT_CREATE),
    (codes.NOT_ENABLED, errors.KeyNotEnabled, codes.AUDIO_CREATE),
    (codes.TASK_NOT_FOUND, errors.TaskNotFound, codes.SCRIPT_GET),
]


def call(client: PodcastClient, endpoint: str) -> Any:
    if endpoint == codes.SCRIPT_CREATE:
        return client.create_script(SCRIPT_BODY)
    if endpoint == codes.AUDIO_CREATE:
        return client.create_audio(
            {
                "title": "t",
                "processed_content": "p",
                "podcast_script": [{"role": "A", "text": "hello", "voice_id": ""}],
                "hightlights": [],
                "global_id": "x",
            }
        )
    if endpoint == codes.SCRIPT_GET:
        return client.get_script("no-such-task")
    return client.get_audio("no-such-task")


@pytest.mark.parametrize(("code", "exception", "endpoint"), CODE_CASES)
def test_every_documented_code_is_a_typed_exception(
    sandbox_factory: Any, code: int, exception: type[errors.ApiCodeError], endpoint: str
) -> None:
    plan = FaultPlan(error_rates={code: 1.0}, endpoints=(endpoint,))
    server = sandbox_factory(faults=plan)
    client = PodcastClient(KEY, server.url)
    with pytest.raises(exception) as caught:
        call(client, endpoint)
    documented = codes.RESPONSE_CODES[code]
    assert caught.value.code == code
    assert caught.value.retryable is documented.retryable
    assert caught.value.processed is documented.processed
    assert documented.message in str(caught.value)
    assert KEY not in str(caught.value)


def test_every_documented_code_has_an_exception() -> None:
    for code in codes.RESPONSE_CODES:
        if code != codes.SUCCESS:
            assert type(errors.error_for_code(code, "", "")) is not errors.UnknownApiCode


def test_codes_arise_from_the_sandbox_rules(sandbox_factory: Any) -> None:
    strict = sandbox_factory(
        keys=frozenset({KEY, "suspended-key", "disabled-key"}),
        suspended_keys=frozenset({"suspended-key"}),
        disabled_keys=frozenset({"disabled-key"}),
    )
    with pytest.raises(errors.InvalidApiKey):
        PodcastClient("wrong-key", strict.url).create_script(SCRIPT_BODY)
    with pytest.raises(errors.AccountSuspended):
        PodcastClient("suspended-key", strict.url).create_script(SCRIPT_BODY)
    with pytest.raises(errors.KeyNotEnabled):
        PodcastClient("disabled-key", strict.url).create_script(SCRIPT_BODY)
    # The documented rule: status calls do not check whether a key is enabled.
    with pytest.raises(errors.TaskNotFound):
        PodcastClient("disabled-key", strict.url).get_script("unknown")

    broke = sandbox_factory(credits=0)
    with pytest.raises(errors.InsufficientCredits):
        PodcastClient(KEY, broke.url).create_script(SCRIPT_BODY)

    limited = sandbox_factory(concurrency_limit=1, script_delay=30)
    client = PodcastClient(KEY, limited.url)
    client.create_script(SCRIPT_BODY)
    with pytest.raises(errors.ConcurrencyLimited):
        client.create_script(SCRIPT_BODY)

    rated = sandbox_factory(rate_limit=2)
    client = PodcastClient(KEY, rated.url)
    with pytest.raises(errors.RateLimited):
        for _ in range(5):
            with pytest.raises(errors.TaskNotFound):
                client.get_script("x")


def test_connect_failure_is_provably_not_processed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PodcastClient(KEY, f"http://127.0.0.1:{port}", connect_timeout=1)
    for endpoint in codes.ENDPOINTS:
        with pytest.raises(errors.RequestNotSent) as caught:
            call(client, endpoint)
        assert caught.value.processed is False and caught.value.retryable


def test_drop_before_the_body_is_not_processed(sandbox_factory: Any) -> None:
    server = sandbox_factory(faults=FaultPlan(drop_before=1.0))
    with pytest.raises(errors.RequestNotSent):
        PodcastClient(KEY, server.url).create_script(SCRIPT_BODY)
    assert server.stats()["tasks_created"] == {}


def test_drop_after_the_create_is_an_unknown_outcome(sandbox_factory: Any) -> None:
    server = sandbox_factory(faults=FaultPlan(drop_after=1.0))
    with pytest.raises(errors.ResponseLost) as caught:
        PodcastClient(KEY, server.url).create_script(SCRIPT_BODY)
    assert caught.value.processed is None and not caught.value.retryable
    assert server.stats()["tasks_created"] == {"script": 1}


def test_read_timeout_after_sending_is_unknown(sandbox_factory: Any) -> None:
    server = sandbox_factory(faults=FaultPlan(latency=1.0, latency_seconds=1.0))
    with pytest.raises(errors.ResponseLost):
        PodcastClient(KEY, server.url, read_timeout=0.2).create_script(SCRIPT_BODY)


def test_503_is_retryable_and_not_processed(sandbox_factory: Any) -> None:
    server = sandbox_factory(faults=FaultPlan(http_5xx=1.0))
    with pytest.raises(errors.HttpStatusError) as caught:
        PodcastClient(KEY, server.url).create_script(SCRIPT_BODY)
    assert caught.value.status == 503 and caught.value.retryable
    assert caught.value.processed is False


def _hostile(reply: Reply) -> Any:
    return HostileServer(lambda seen: reply)


@pytest.mark.parametrize(
    ("reply", "exception", "processed"),
    [
        (
            Reply(body=b"<html>gateway</html>", content_type="text/html"),
            errors.InvalidResponse,
            None,
        ),
        (Reply(status=500, body=b"oops", content_type="text/plain"), errors.HttpStatusError, None),
        (Reply(status=502, body=b""), errors.HttpStatusError, None),
        (Reply(body={"code": 100000, "message": "ok"}), errors.InvalidResponse, None),
        (
            Reply(body={"code": 100000, "data": {"global_id": "../../etc/passwd"}}),
            errors.InvalidResponse,
            None,
        ),
        (Reply(body={"code": 100000, "data": {"global_id": 42}}), errors.InvalidResponse, None),
        (Reply(body={"code": 777777, "message": "new"}), errors.UnknownApiCode, False),
        (
            Reply(body={"code": 100000, "data": {"global_id": "ok-1"}}, partial=True),
            errors.ResponseLost,
            None,
        ),
        (Reply(drop=True), errors.ResponseLost, None),
    ],
)
def test_hostile_create_responses(
    reply: Reply, exception: type[errors.ApiError], processed: bool | None
) -> None:
    with _hostile(reply) as server:
        client = PodcastClient(KEY, server.url)
        with pytest.raises(exception) as caught:
            client.create_script(SCRIPT_BODY)
    assert caught.value.processed is processed
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        {"status": "done"},
        {"status": "success", "global_id": "other"},
        {"status": "success"},
        {
            "status": "success",
            "podcast_script": "text",
            "hightlights": [],
            "title": "t",
            "processed_content": "p",
        },
        {
            "status": "success",
            "podcast_script": [{"role": 1}],
            "hightlights": [],
            "title": "t",
            "processed_content": "p",
        },
    ],
)
def test_hostile_script_status_responses(data: dict[str, Any]) -> None:
    reply = Reply(body={"code": 100000, "data": data})
    with _hostile(reply) as server, pytest.raises(errors.InvalidResponse):
        PodcastClient(KEY, server.url).get_script("gid")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y.mp3", "javascript:alert(1)"])
def test_audio_file_url_must_be_http(url: str) -> None:
    data = {"status": "success", "global_id": "gid", "file_url": url}
    reply = Reply(body={"code": 100000, "data": data})
    with _hostile(reply) as server, pytest.raises(errors.InvalidResponse):
        PodcastClient(KEY, server.url).get_audio("gid")


def test_requests_carry_the_documented_headers_and_no_secret_leaks() -> None:
    def echo_key(seen: Seen) -> Reply:
        # A server that echoes the key back in its error message.
        return Reply(body={"code": 101002, "message": f"Invalid API key {seen.headers['api-key']}"})

    with HostileServer(echo_key) as server:
        client = PodcastClient(KEY, server.url)
        with pytest.raises(errors.InvalidApiKey) as caught:
            client.get_script("gid")
        with pytest.raises(errors.InvalidApiKey):
            client.create_script(SCRIPT_BODY)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in repr(client)
    get, create = server.seen
    for seen in (get, create):
        assert seen.method == "POST"
        assert seen.headers["api-key"] == KEY
        assert seen.headers["Content-Type"] == "application/json"
        assert seen.headers["User-Agent"] == USER_AGENT
    assert get.path == codes.SCRIPT_GET
    assert create.path == codes.SCRIPT_CREATE
    assert create.headers.get("Expect") == "100-continue"


def test_a_server_that_ignores_expect_still_gets_the_body() -> None:
    # HostileServer's handler never sends 100 Continue; the client sends the body after a wait.
    reply = Reply(body={"code": 100000, "data": {"global_id": "abc-1"}})
    with HostileServer(lambda seen: reply, answer_expect=False) as server:
        client = PodcastClient(KEY, server.url)
        adapter = client.session.get_adapter(server.url + codes.SCRIPT_CREATE)
        adapter.continue_wait = 0.2  # type: ignore[attr-defined]
        assert client.create_script(SCRIPT_BODY) == "abc-1"
    assert server.seen[0].body.startswith(b"{")


def test_the_sandbox_serves_its_voice_catalog_and_samples(sandbox: Any) -> None:
    import io

    import requests
    from mutagen.mp3 import MP3

    from acbatch.sandbox.catalog import sandbox_catalog
    from acbatch.voices import VoiceCatalog

    document = requests.get(sandbox.url + "/sandbox/voices.json", timeout=10).json()
    assert document["code"] == 100000 and document["data"]["total"] == len(sandbox_catalog())
    assert VoiceCatalog.from_document(document).voices == sandbox_catalog().voices
    sample = requests.get(sandbox.url + "/sandbox/voices/ava.mp3", timeout=30)
    assert sample.headers["Content-Type"] == "audio/mpeg"
    assert MP3(io.BytesIO(sample.content)).info.length > 0.5
    assert requests.get(sandbox.url + "/sandbox/voices/nobody.mp3", timeout=10).status_code == 404
