"""Creates and polls share keep-alive connections, and reuse keeps the proof of non-delivery."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from acbatch.api.client import PodcastClient
from tests.double import StrictDouble
from tests.test_client import SCRIPT_BODY

KEY = "sk-live-SECRET-0123456789"


def test_creates_and_polls_reuse_one_connection() -> None:
    with StrictDouble(script_latency=0.0, audio_latency=0.0) as double:
        client = PodcastClient(KEY, double.url)
        ids = [client.create_script(SCRIPT_BODY) for _ in range(3)]
        for global_id in ids:
            assert client.get_script(global_id).succeeded
            assert client.get_script(global_id).succeeded
        assert client.adapter.connections_opened == 1
        assert double.created("script") == 3


class ClosingServer:
    """Answers every request (100 Continue first when asked), then closes the connection
    without saying so: what a server does to a keep-alive connection left idle too long."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.bodies: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                reader = conn.makefile("rb")
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        break
                    head += line
                if not head:
                    continue
                if b"100-continue" in head.lower():
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.bodies.append(reader.read(length))
                global_id = f"task-{len(self.bodies)}"
                data = {"global_id": global_id, "status": "waiting"}
                payload = json.dumps({"code": 100000, "message": "ok", "data": data}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                reader.close()
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    with ClosingServer() as server:
        yield server


def test_a_create_on_a_connection_closed_while_idle_is_sent_once_on_a_new_one(
    closing_server: ClosingServer,
) -> None:
    client = PodcastClient(KEY, closing_server.url)
    assert client.create_script(SCRIPT_BODY) == "task-1"
    # The pooled connection is dead: the create's headers find it closed before the body
    # leaves, so it goes out once more on a new connection, and the server sees one body.
    assert client.create_script(SCRIPT_BODY) == "task-2"
    assert len(closing_server.bodies) == 2
    assert closing_server.connections == 2


def test_a_poll_on_a_connection_closed_while_idle_is_asked_again(
    closing_server: ClosingServer,
) -> None:
    client = PodcastClient(KEY, closing_server.url)
    assert client.get_script("task-1").waiting
    assert client.get_script("task-2").waiting
    assert closing_server.connections == 2
