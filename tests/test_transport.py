"""The API transport over real sockets: HTTPS (the real host's only scheme), kept-alive
connections, and the proof of non-delivery that paid creates rely on, which reuse must keep.

The servers here are small and literal on purpose: each counts the TCP connections it accepted
and the request bodies it received, so "reused", "never reused" and "never sent twice" are
read off the server, not inferred from the client.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from acbatch import codes
from acbatch.api import errors
from acbatch.api.client import PodcastClient
from tests.conftest import text_episode, write_show
from tests.double import StrictDouble

KEY = "transport-key-7a7a"
GLOBAL_ID = "0b3f6a52c1d94e0c8f1a2b3c4d5e6f70"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


class LiteralServer:
    """A keep-alive API server with one behaviour per test.

    `behaviour(handler, n)` sees the n-th request (1-based) on its connection before the body is
    read, and returns what to do: "answer", "drop" (close without a word, before any 100
    Continue), "refuse" (a final 401-style answer without asking for the body), "close_after"
    (answer, then close without saying so), "hang" (answer nothing until released), or "huge"
    (an answer far over any limit).
    """

    def __init__(self, behaviour: Any = None, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour or (lambda handler, n: "answer")
        self.connections = 0
        self.bodies: list[tuple[str, bytes]] = []
        self.release = threading.Event()
        self.closed_idle = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                with server._lock:
                    server.connections += 1
                self.served = 0
                super().setup()

            def handle_expect_100(self) -> bool:
                return self._act(expecting=True)

            def do_POST(self) -> None:
                if "Expect" not in self.headers and not self._act(expecting=False):
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server._lock:
                    server.bodies.append((self.path, body))
                action = self.action
                if action == "hang":
                    server.release.wait(30)
                    self.close_connection = True
                    return
                if action == "huge":
                    self._send(200, b'{"code": 100000, "data": {"x": "' + b"y" * 200_000 + b'"}}')
                    return
                data: dict[str, Any] = {"global_id": GLOBAL_ID}
                if self.path in (codes.SCRIPT_GET, codes.AUDIO_GET):
                    data["status"] = "waiting"
                self._send(200, json.dumps({"code": 100000, "data": data}).encode())
                if action == "close_after":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    server.closed_idle.set()

            def _act(self, *, expecting: bool) -> bool:
                self.served += 1
                self.action = server.behaviour(self, self.served)
                if self.action == "drop":
                    self.close_connection = True
                    return False
                if self.action == "refuse":
                    payload = json.dumps({"code": 101002, "message": "Invalid API key"}).encode()
                    self._send(200, payload)
                    self.close_connection = True
                    return False
                if expecting:
                    return super().handle_expect_100()
                return True

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def created(self) -> int:
        return sum(1 for path, _ in self.bodies if path in codes.CREATE_ENDPOINTS)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[LiteralServer] = []

    def start(behaviour: Any = None, tls: ssl.SSLContext | None = None) -> LiteralServer:
        servers.append(LiteralServer(behaviour, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def client_for(server: LiteralServer, **options: Any) -> Any:
    return PodcastClient(KEY, server.url, **options)


@pytest.fixture
def trusted(ca_bundle: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test authority as the user's CA bundle (the variable requests and acbatch read)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return ca_bundle


BODY = {"source_type": 4, "text": "tide pools"}


# -- HTTPS --------------------------------------------------------------------------------------


def test_creates_and_status_calls_work_over_https(
    serve: Any, authority: trustme.CA, trusted: str
) -> None:
    server = serve(tls=server_context(authority))
    with client_for(server) as client:
        assert client.create_script(BODY) == GLOBAL_ID
        assert client.get_script(GLOBAL_ID).status == "waiting"
        assert client.create_audio({"global_id": GLOBAL_ID}) == GLOBAL_ID
    assert server.created() == 2
    assert server.connections == 1, "three calls over one TLS connection"


def test_an_untrusted_certificate_is_refused_before_anything_is_sent(
    serve: Any, authority: trustme.CA
) -> None:
    server = serve(tls=server_context(authority))
    with client_for(server) as client, pytest.raises(errors.RequestNotSent):
        client.create_script(BODY)
    assert server.bodies == []


def test_over_https_a_create_refused_before_its_body_was_sent_is_provably_not_processed(
    serve: Any, authority: trustme.CA, trusted: str
) -> None:
    server = serve(lambda handler, n: "drop", tls=server_context(authority))
    with client_for(server) as client, pytest.raises(errors.RequestNotSent) as caught:
        client.create_script(BODY)
    assert caught.value.processed is False
    assert server.bodies == []


def test_over_https_a_final_answer_without_100_continue_is_read_and_the_body_never_sent(
    serve: Any, authority: trustme.CA, trusted: str
) -> None:
    server = serve(lambda handler, n: "refuse", tls=server_context(authority))
    with client_for(server) as client, pytest.raises(errors.InvalidApiKey) as caught:
        client.create_script(BODY)
    assert caught.value.code == 101002
    assert server.bodies == []


# -- keep-alive -----------------------------------------------------------------------------------


def test_calls_in_a_row_share_one_connection(serve: Any) -> None:
    server = serve()
    with client_for(server) as client:
        for _ in range(5):
            client.create_script(BODY)
            client.get_script(GLOBAL_ID)
    assert server.created() == 5
    assert server.connections == 1
    assert client.connections.opened == 1


def test_a_connection_the_server_closed_while_idle_is_not_used(serve: Any) -> None:
    server = serve(lambda handler, n: "close_after")
    with client_for(server) as client:
        client.create_script(BODY)
        assert server.closed_idle.wait(5)
        client.create_script(BODY)
    assert server.created() == 2
    assert server.connections == 2


def test_a_create_on_a_connection_dropped_as_it_arrives_goes_once_on_a_new_one(
    serve: Any,
) -> None:
    """The server's keep-alive timeout strikes just as the create arrives: it closes before any
    100 Continue, so the body provably never left and the create is sent on a new connection,
    once, without counting as a retry."""
    server = serve(lambda handler, n: "drop" if n == 2 else "answer")
    with client_for(server) as client:
        client.get_script(GLOBAL_ID)
        assert client.create_script(BODY) == GLOBAL_ID
    assert server.created() == 1
    assert server.connections == 2


def test_a_status_call_on_a_connection_dropped_as_it_arrives_is_asked_again(serve: Any) -> None:
    def behaviour(handler: Any, n: int) -> str:
        return "drop" if n == 2 else "answer"

    server = serve(behaviour)
    with client_for(server) as client:
        client.get_script(GLOBAL_ID)
        assert client.get_script(GLOBAL_ID).status == "waiting"
    assert server.connections == 2


def test_a_slow_answer_on_a_kept_alive_connection_is_not_asked_again(serve: Any) -> None:
    """Slowness is not a closed connection: the call gives up and says so (the runner decides
    when to ask again), and the server saw the question once."""
    server = serve(lambda handler, n: "hang" if n == 2 else "answer")
    with client_for(server, connect_timeout=0.2, read_timeout=0.3) as client:
        client.get_script(GLOBAL_ID)
        with pytest.raises(errors.ResponseLost):
            client.get_script(GLOBAL_ID)
    assert [path for path, _ in server.bodies] == [codes.SCRIPT_GET] * 2
    assert server.connections == 1


def test_a_fresh_connection_that_drops_a_create_is_reported_not_retried(serve: Any) -> None:
    """Only a reused connection is replaced quietly; on a new one the runner decides."""
    server = serve(lambda handler, n: "drop")
    with client_for(server) as client, pytest.raises(errors.RequestNotSent):
        client.create_script(BODY)
    assert server.connections == 1


def test_a_connection_cut_off_at_the_time_limit_is_never_reused(serve: Any) -> None:
    first = iter(["hang"])
    server = serve(lambda handler, n: next(first, "answer"))
    with client_for(server, connect_timeout=0.2, read_timeout=0.3) as client:
        with pytest.raises(errors.ResponseLost):
            client.create_script(BODY)
        assert client.create_script(BODY) == GLOBAL_ID
    assert server.connections == 2


def test_a_connection_whose_answer_was_refused_is_never_reused(serve: Any) -> None:
    first = iter(["huge"])
    server = serve(lambda handler, n: next(first, "answer"))
    with client_for(server, max_answer_bytes=10_000) as client:
        with pytest.raises(errors.InvalidResponse):
            client.get_script(GLOBAL_ID)
        assert client.get_script(GLOBAL_ID).status == "waiting"
    assert server.connections == 2


def test_a_refused_create_closes_its_connection(serve: Any) -> None:
    """After a final answer that came without our body, the server may still be waiting for
    it: that connection is closed, never reused."""
    first = iter(["refuse"])
    server = serve(lambda handler, n: next(first, "answer"))
    with client_for(server) as client:
        with pytest.raises(errors.ApiError):
            client.create_script(BODY)
        client.create_script(BODY)
    assert server.connections == 2
    assert server.created() == 1


# -- a whole run over HTTPS ----------------------------------------------------------------------


def test_a_whole_run_over_https_reuses_connections(
    tmp_path: Path, authority: trustme.CA, ca_bundle: str
) -> None:
    write_show(
        tmp_path,
        {f"ep-{i}": text_episode(i) for i in range(1, 4)},
        api={"jobs": 2, "polling": {"initial": 0.05, "max_interval": 0.2}},
    )
    with StrictDouble(tls=server_context(authority)) as double:
        env = {
            **os.environ,
            "AUDIOCLEANER_API_KEY": KEY,
            "AUDIOCLEANER_API_BASE": double.url,
            "REQUESTS_CA_BUNDLE": ca_bundle,
        }
        env.pop("ACBATCH_FAILPOINT", None)
        result = subprocess.run(
            [sys.executable, "-m", "acbatch", "-C", str(tmp_path), "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert double.created("script") == 3 and double.created("audio") == 3
        api_calls = sum(1 for _at, path in double.requests if "/api/" in path)
        assert double.connections <= api_calls // 2, (double.connections, api_calls)
    feed = (tmp_path / "output" / "feed.xml").read_text()
    assert feed.count("<item>") == 3
