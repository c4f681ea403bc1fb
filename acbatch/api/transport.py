"""A requests transport for paid create calls that knows whether the server got the request.

A create is paid work, so after a failure the runner must know whether the server could have acted.
This adapter sends the headers with `Expect: 100-continue` and holds the body back until the server
says "100 Continue". If the connection fails before the body leaves, the request provably was not
processed (the server never saw its JSON) and can be resent safely; once the body is sent, any
failure leaves the outcome unknown. A server that ignores Expect gets the body after a short wait,
as RFC 9110 section 10.1.1 allows, and later failures are then simply "unknown".

Connections are kept alive and reused, creates and status calls alike, from one pool per host
(`pool_size` idle connections at most). Reuse keeps the proof: a create on a reused connection
still holds its body back until "100 Continue", so a connection the server closed while idle
fails before the body leaves and the create is sent once more on a new connection. A status call
(`expect_paths` names the calls that get Expect; the rest are sent plainly) is a read, and on
a reused connection that fails before any answer it is also sent once more on a new one.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

CONTINUE_WAIT_SECONDS = 3.0
POOL_SIZE = 64
"""Idle keep-alive connections kept per host (above the most workers a run starts)."""
_MAX_INTERIM_HEAD = 8192


class BodyNotSent(requests.exceptions.ConnectionError):
    """The connection failed before the request body was sent: the server cannot have acted."""


class ResponseNotReceived(requests.exceptions.ConnectionError):
    """The body was sent but no complete response arrived: the outcome is unknown."""


def _timeouts(timeout: object) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout  # type: ignore[return-value]


def _peek(sock: socket.socket, size: int) -> bytes:
    """Peek up to `size` bytes without consuming them; b'' means the peer closed."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size, socket.MSG_PEEK)
        if not chunk or len(chunk) == len(data):
            return chunk
        data = chunk
    return data


def _consume_interim_response(sock: socket.socket) -> None:
    """Read and drop an interim `HTTP/1.1 100 Continue` head up to its blank line."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise OSError("connection closed inside an interim response")
        head += byte
        if len(head) > _MAX_INTERIM_HEAD:
            raise OSError("interim response head too long")


class ExpectContinueAdapter(BaseAdapter):
    def __init__(
        self,
        continue_wait: float = CONTINUE_WAIT_SECONDS,
        *,
        expect_paths: Collection[str] | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        super().__init__()
        self.continue_wait = continue_wait
        self.expect_paths = expect_paths
        """Paths sent with Expect: 100-continue (None: every request)."""
        self.pool_size = pool_size
        self._idle: dict[tuple[str, str, int | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self.connections_opened = 0

    def close(self) -> None:
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def _take(self, key: tuple[str, str, int | None]) -> http.client.HTTPConnection | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def _give(self, key: tuple[str, str, int | None], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if len(conns) < self.pool_size:
                conns.append(conn)
                return
        conn.close()

    def _connection(
        self, url: str, connect_timeout: float | None, verify: bool | str
    ) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(verify, str):
                context.load_verify_locations(verify)
            else:
                try:
                    import certifi

                    context.load_verify_locations(certifi.where())
                except ImportError:  # pragma: no cover - requests depends on certifi
                    pass
            return http.client.HTTPSConnection(
                host, parts.port, timeout=connect_timeout, context=context
            )
        return http.client.HTTPConnection(host, parts.port, timeout=connect_timeout)

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: bool | str = True,
        cert: object = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        connect_timeout, read_timeout = _timeouts(timeout)
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        expect = self.expect_paths is None or (parts.path or "/") in self.expect_paths

        conn = self._take(key)
        while True:
            reused = conn is not None
            if conn is None:
                conn = self._connection(url, connect_timeout, verify)
                self.connections_opened += 1
            try:
                if expect:
                    response, content = self._send_expecting(
                        conn, request, target, body, connect_timeout, read_timeout
                    )
                else:
                    response, content = self._send_plain(
                        conn, request, target, body, connect_timeout, read_timeout
                    )
            except BodyNotSent:
                conn.close()
                if reused:
                    conn = None  # closed while idle: nothing was processed, try a new one
                    continue
                raise
            except _StaleConnection as exc:
                conn.close()
                if reused:
                    conn = None
                    continue
                raise ResponseNotReceived(str(exc)) from exc.__cause__
            except BaseException:
                conn.close()
                raise
            break
        if response.will_close:
            conn.close()
        else:
            self._give(key, conn)

        result = requests.Response()
        result.status_code = response.status
        result.reason = response.reason
        result.headers = CaseInsensitiveDict(response.getheaders())
        result._content = content
        result.url = url
        result.request = request
        result.encoding = requests.utils.get_encoding_from_headers(result.headers)
        return result

    @staticmethod
    def _open(conn: http.client.HTTPConnection, connect_timeout: float | None) -> socket.socket:
        if conn.sock is None:
            conn.timeout = connect_timeout
            conn.connect()
        sock = conn.sock
        assert sock is not None
        sock.settimeout(connect_timeout)
        return sock

    def _send_plain(
        self,
        conn: http.client.HTTPConnection,
        request: requests.PreparedRequest,
        target: str,
        body: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """A request that is safe to repeat (a status call), without Expect."""
        try:
            sock = self._open(conn, connect_timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise BodyNotSent(f"could not connect: {exc}") from exc
        try:
            conn.putrequest(request.method or "POST", target, skip_accept_encoding=True)
            for name, value in request.headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            sock.settimeout(read_timeout)
            response = conn.getresponse()
        except TimeoutError as exc:
            raise ResponseNotReceived(f"read timed out: {exc}") from exc
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            raise _StaleConnection(f"connection closed before an answer: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ResponseNotReceived(f"connection lost: {exc}") from exc
        try:
            content = response.read()
        except TimeoutError as exc:
            raise ResponseNotReceived(f"read timed out: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ResponseNotReceived(f"connection lost: {exc}") from exc
        return response, content

    def _send_expecting(
        self,
        conn: http.client.HTTPConnection,
        request: requests.PreparedRequest,
        target: str,
        body: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """A paid create: the body leaves only after "100 Continue" (or the wait)."""
        try:
            sock = self._open(conn, connect_timeout)
            conn.putrequest(request.method or "POST", target, skip_accept_encoding=True)
            for name, value in request.headers.items():
                conn.putheader(name, value)
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
            sock.settimeout(self.continue_wait)
            try:
                head = _peek(sock, 12)
            except TimeoutError:
                head = None  # the server ignores Expect: send the body anyway
            if head == b"":
                raise BodyNotSent("connection closed before the request body was sent")
            body_needed = True
            if head is not None:
                if head[9:12] == b"100":
                    _consume_interim_response(sock)
                else:
                    body_needed = False  # a final answer without our body: nothing acted
        except BodyNotSent:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise BodyNotSent(f"request not sent: {exc}") from exc

        try:
            if body_needed:
                sock.sendall(body)
            sock.settimeout(read_timeout)
            response = conn.getresponse()
            content = response.read()
        except TimeoutError as exc:
            raise ResponseNotReceived(f"read timed out after sending: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ResponseNotReceived(f"connection lost after sending: {exc}") from exc
        if not body_needed:
            # The server answered without reading our body: the connection cannot carry more.
            response.will_close = True
        return response, content


class _StaleConnection(Exception):
    """A reused connection failed before any answer (the server had closed it while idle)."""
