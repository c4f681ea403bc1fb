"""A requests transport for paid create calls that knows whether the server got the request.

A create is paid work, so after a failure the runner must know whether the server could have acted.
This adapter sends the headers with `Expect: 100-continue` and holds the body back until the server
says "100 Continue". If the connection fails before the body leaves, the request provably was not
processed (the server never saw its JSON) and can be resent safely; once the body is sent, any
failure leaves the outcome unknown. A server that ignores Expect gets the body after a short wait,
as RFC 9110 section 10.1.1 allows, and later failures are then simply "unknown".
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

CONTINUE_WAIT_SECONDS = 3.0
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
    def __init__(self, continue_wait: float = CONTINUE_WAIT_SECONDS) -> None:
        super().__init__()
        self.continue_wait = continue_wait

    def close(self) -> None:  # nothing pooled: one connection per create
        pass

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
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")

        conn = self._connection(url, connect_timeout, verify)
        try:
            try:
                conn.connect()
                conn.putrequest(request.method or "POST", target, skip_accept_encoding=True)
                for name, value in request.headers.items():
                    conn.putheader(name, value)
                conn.putheader("Expect", "100-continue")
                conn.endheaders()
                sock = conn.sock
                assert sock is not None
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
        finally:
            conn.close()

        result = requests.Response()
        result.status_code = response.status
        result.reason = response.reason
        result.headers = CaseInsensitiveDict(response.getheaders())
        result._content = content
        result.url = url
        result.request = request
        result.encoding = requests.utils.get_encoding_from_headers(result.headers)
        return result
