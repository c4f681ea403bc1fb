"""requests transports for the API: bounded in time and size, and, for paid creates, able to tell
whether the server got the request.

Every API call goes through `BoundedAdapter`: one wall-clock limit covers connecting, sending and
the whole answer (a server trickling one byte every few seconds is cut off like a silent one), and
the body is capped while it is read, both as received and after gzip/deflate decoding, so an
endless or compressed-bomb answer costs at most the cap in memory.


A create is paid work, so after a failure the runner must know whether the server could have acted.
This adapter sends the headers with `Expect: 100-continue` and holds the body back until the server
says "100 Continue". If the connection fails before the body leaves, the request provably was not
processed (the server never saw its JSON) and can be resent safely; once the body is sent, any
failure leaves the outcome unknown. A server that ignores Expect gets the body after a short wait,
as RFC 9110 section 10.1.1 allows, and later failures are then simply "unknown".
"""

from __future__ import annotations

import contextlib
import http.client
import io
import ipaddress
import os
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

CONTINUE_WAIT_SECONDS = 3.0
_MAX_INTERIM_HEAD = 8192
_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class AnswerLimits:
    """What one API call may cost: seconds from connecting to the last byte, and body bytes
    (as received and once decoded)."""

    total_seconds: float
    max_bytes: int


class BodyNotSent(requests.exceptions.ConnectionError):
    """The connection failed before the request body was sent: the server cannot have acted."""


class ResponseNotReceived(requests.exceptions.ConnectionError):
    """The body was sent but no complete response arrived: the outcome is unknown."""


class AnswerRefused(requests.exceptions.RequestException):
    """The answer's body cannot be taken: too large, or in an encoding acbatch does not read."""


class AnswerTooLarge(AnswerRefused):
    """The answer's body passed the size limit (as received or once decoded)."""


def ca_bundle() -> bool | str:
    """The certificate authorities to trust: the bundle in REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE, as requests reads them (a company proxy's authority), else True."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def tls_context(verify: bool | str | None = None) -> ssl.SSLContext:
    """How acbatch checks a server's certificate: against certifi's authorities and the
    system's, or only against the bundle in `verify` (a path). None: ca_bundle()."""
    if verify is None:
        verify = ca_bundle()
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
    return context


class _Watchdog:
    """Cuts a connection at its wall-clock deadline, whatever the reading thread is doing."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._cancelled = False
        self._lock = threading.Lock()
        self._sock = sock
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.fired = True
        # The plain socket's shutdown, also under TLS: it wakes a blocked recv at once.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Stop the timer; afterwards `fired` is final (a firing under way has set it)."""
        with self._lock:
            self._cancelled = True
        self._timer.cancel()


def _decoder(encoding: str) -> zlib._Decompress | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise AnswerRefused(f"the answer uses an unsupported content encoding {encoding[:20]!r}")


def read_bounded(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    """The body, decoded, refusing more than `max_bytes` received or decoded."""
    decoder = _decoder(response.getheader("Content-Encoding") or "")
    declared = response.getheader("Content-Length") or ""
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(
            f"the answer declares {int(declared)} bytes, over the {max_bytes}-byte limit"
        )
    received = 0
    body = bytearray()
    while True:
        chunk = response.read(_READ_CHUNK)
        if not chunk:
            if response.length:  # http.client returns a short body quietly
                raise http.client.IncompleteRead(bytes(body), response.length)
            break
        received += len(chunk)
        if received > max_bytes:
            raise AnswerTooLarge(f"the answer is over the {max_bytes}-byte limit")
        if decoder is None:
            body += chunk
            continue
        try:
            body += decoder.decompress(chunk, max_bytes - len(body) + 1)
        except zlib.error as exc:
            raise AnswerRefused(f"the answer's compressed body is damaged ({exc})") from None
        if decoder.unconsumed_tail or len(body) > max_bytes:
            raise AnswerTooLarge(f"the answer decompresses to over the {max_bytes}-byte limit")
    if decoder is not None:
        body += decoder.flush(max_bytes - len(body) + 1)
        if len(body) > max_bytes:
            raise AnswerTooLarge(f"the answer decompresses to over the {max_bytes}-byte limit")
    return bytes(body)


def _timeouts(timeout: object) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout  # type: ignore[return-value]


def _read_exactly(sock: socket.socket, size: int, start: bytes = b"") -> bytes:
    data = start
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("connection closed before the answer's status line")
        data += chunk
    return data


def _consume_interim_response(sock: socket.socket, head: bytes) -> None:
    """Read and drop the rest of an interim `HTTP/1.1 100 Continue` head, up to its blank line."""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionResetError("connection closed inside an interim response")
        head += byte
        if len(head) > _MAX_INTERIM_HEAD:
            raise OSError("interim response head too long")


class _PrefixedReader(io.RawIOBase):
    """Bytes already taken off the socket, then the socket: what an answer is read from when
    its status line had to be read to learn that it was not "100 Continue"."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._prefix = prefix
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        return self._sock.recv_into(buffer)


class _PrefixedSocket:
    """Stands in for the socket when http.client parses an answer whose start was read."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._reader = _PrefixedReader(prefix, sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._reader)


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to say: a close, or bytes nobody asked for."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


_PoolKey = tuple[str, str, int | None, str]


class ConnectionPool:
    """Idle keep-alive connections to the API, shared by the status and create adapters of one
    client, so a batch pays one TCP (and TLS) handshake per slot, not one per call.

    A connection comes back only after an answer read whole, within its limits, that did not ask
    to close; a connection that was cut off, half read, refused or idle too long is closed.
    """

    def __init__(self, max_idle: int = 64, max_idle_seconds: float = 15.0) -> None:
        self.max_idle = max_idle
        self.max_idle_seconds = max_idle_seconds
        self.opened = 0
        """Connections opened through this pool (a measure of reuse)."""
        self._idle: dict[_PoolKey, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()

    def take(self, key: _PoolKey) -> http.client.HTTPConnection | None:
        now = time.monotonic()
        while True:
            with self._lock:
                stack = self._idle.get(key)
                if not stack:
                    return None
                since, conn = stack.pop()
            sock = conn.sock
            if sock is not None and now - since <= self.max_idle_seconds and not _readable(sock):
                return conn
            conn.close()

    def give(self, key: _PoolKey, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            stack = self._idle.setdefault(key, [])
            if len(stack) < self.max_idle:
                stack.append((time.monotonic(), conn))
                return
        conn.close()

    def count_opened(self) -> None:
        with self._lock:
            self.opened += 1

    def close(self) -> None:
        with self._lock:
            stacks, self._idle = list(self._idle.values()), {}
        for stack in stacks:
            for _since, conn in stack:
                conn.close()


class _StaleConnection(Exception):
    """A kept-alive connection failed before the server could have acted on this request."""


def _closed_by_peer(exc: BaseException) -> bool:
    """Whether a failure means the server had closed the connection (a kept-alive connection's
    usual end), not that it is slow: a slow server is never asked twice."""
    if isinstance(exc, TimeoutError):
        return False
    return isinstance(exc, ConnectionError | BodyNotSent | ssl.SSLEOFError | ssl.SSLZeroReturnError)


class BoundedAdapter(BaseAdapter):
    """A wall-clock limit on all of a call, and a capped body.

    With `expect_continue` (paid creates) the headers go out with `Expect: 100-continue` and the
    body is held back until the server says "100 Continue": a failure before that provably left
    the request unprocessed (`BodyNotSent`); after it, the outcome is unknown
    (`ResponseNotReceived`).

    With a `pool`, connections are kept alive and reused. A reused connection that turns out to
    be closed is replaced by a new one within the same call, but only while nothing can have
    been acted on: before a create's body left, or, for the other calls (status reads, safe to
    send again), before any byte of an answer arrived. Without a pool: one connection per call.
    """

    def __init__(
        self,
        limits: AnswerLimits,
        *,
        expect_continue: bool = False,
        continue_wait: float = CONTINUE_WAIT_SECONDS,
        pool: ConnectionPool | None = None,
    ) -> None:
        super().__init__()
        self.limits = limits
        self.expect_continue = expect_continue
        self.continue_wait = continue_wait
        self.pool = pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def _connection(
        self, url: str, connect_timeout: float | None, verify: bool | str
    ) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https":
            return http.client.HTTPSConnection(
                host, parts.port, timeout=connect_timeout, context=tls_context(verify)
            )
        return http.client.HTTPConnection(host, parts.port, timeout=connect_timeout)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: bool | str = True,
        cert: object = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        started = time.monotonic()
        total = self.limits.total_seconds
        url = request.url or ""
        connect_timeout, read_timeout = _timeouts(timeout)
        if read_timeout is not None:
            # A call may ask for less time than the limit (a status poll gives up early).
            total = min(total, (connect_timeout or 0.0) + read_timeout)
        if connect_timeout is not None:
            connect_timeout = min(connect_timeout, total)
        parts = urlsplit(url)
        key: _PoolKey = (parts.scheme, parts.hostname or "", parts.port, str(verify))
        call = _Call(request, url, started, total, connect_timeout, read_timeout)

        conn = self.pool.take(key) if self.pool is not None else None
        try:
            if conn is not None:
                try:
                    response, content, reusable = self._exchange(call, conn, reused=True)
                except _StaleConnection:
                    conn.close()
                    conn = None
            if conn is None:
                conn = self._connection(url, connect_timeout, verify)
                if self.pool is not None:
                    self.pool.count_opened()
                response, content, reusable = self._exchange(call, conn, reused=False)
        except BaseException:
            if conn is not None:  # a failed call never leaves its connection open
                conn.close()
            raise
        if reusable and self.pool is not None:
            self.pool.give(key, conn)
        else:
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

    def _exchange(
        self, call: _Call, conn: http.client.HTTPConnection, *, reused: bool
    ) -> tuple[http.client.HTTPResponse, bytes, bool]:
        """One request and its answer on `conn`: (answer, body, whether conn may be reused).
        Closes nothing; raises `_StaleConnection` only for a reused connection."""
        request, total = call.request, call.total
        watchdog: _Watchdog | None = None
        answer_started = False
        try:
            try:
                if reused:
                    sock = conn.sock
                    assert sock is not None
                    sock.settimeout(call.connect_timeout)
                else:
                    conn.connect()
                    sock = conn.sock
                    assert sock is not None
                watchdog = _Watchdog(sock, total - (time.monotonic() - call.started))
                conn.putrequest(request.method or "POST", call.target, skip_accept_encoding=True)
                for name, value in request.headers.items():
                    if name.lower() not in ("accept-encoding", "connection"):
                        conn.putheader(name, value)
                # Only what read_bounded can decode, whatever codecs happen to be installed.
                conn.putheader("Accept-Encoding", "gzip, deflate")
                if self.pool is None:
                    conn.putheader("Connection", "close")
                if self.expect_continue:
                    conn.putheader("Expect", "100-continue")
                    conn.endheaders()
                    final_head = self._await_continue(sock, call.read_timeout)
                else:
                    conn.endheaders()
                    final_head = None
            except (OSError, http.client.HTTPException) as exc:
                if watchdog is not None and watchdog.fired:
                    raise BodyNotSent(f"no answer within the {total:g}s limit") from None
                if reused and _closed_by_peer(exc):
                    raise _StaleConnection() from exc
                if isinstance(exc, BodyNotSent):
                    raise
                raise BodyNotSent(f"request not sent: {exc}") from exc

            try:
                if final_head is not None:
                    # A final answer without our body: nothing acted. Its first bytes were read
                    # to learn that; the connection is not used again.
                    answer_started = True
                    response = http.client.HTTPResponse(
                        _PrefixedSocket(final_head, sock),  # type: ignore[arg-type]
                        method=request.method,
                    )
                    response.begin()
                else:
                    if call.body:
                        sock.sendall(call.body)
                    sock.settimeout(call.read_timeout)
                    response = conn.getresponse()
                answer_started = True
                content = read_bounded(response, self.limits.max_bytes)
                if watchdog.fired:  # a body that ends at connection close ends quietly
                    raise TimeoutError("cut off at the wall-clock limit")
            except AnswerRefused:
                raise
            except (OSError, http.client.HTTPException) as exc:
                if watchdog.fired:
                    raise ResponseNotReceived(
                        f"no complete answer within the {total:g}s limit"
                    ) from None
                if (
                    reused
                    and not answer_started
                    and not self.expect_continue
                    and _closed_by_peer(exc)
                ):
                    raise _StaleConnection() from exc
                if isinstance(exc, TimeoutError):
                    raise ResponseNotReceived(f"read timed out after sending: {exc}") from exc
                raise ResponseNotReceived(f"connection lost after sending: {exc}") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
        reusable = (
            final_head is None
            and not watchdog.fired
            and not response.will_close
            and conn.sock is not None
        )
        return response, content, reusable

    def _await_continue(self, sock: socket.socket, read_timeout: float | None) -> bytes | None:
        """None when the body is to be sent (after "100 Continue", or when the server ignores
        Expect); else the start of a final answer the server gave without our body.

        The status line is read, not peeked at: TLS sockets cannot peek."""
        sock.settimeout(self.continue_wait)
        try:
            first = sock.recv(12)
        except TimeoutError:
            return None  # the server ignores Expect: send the body anyway
        if not first:
            raise BodyNotSent("connection closed before the request body was sent")
        sock.settimeout(read_timeout)
        head = _read_exactly(sock, 12, first)
        if head[9:12] == b"100":
            _consume_interim_response(sock, head)
            return None
        return head


@dataclass(frozen=True)
class _Call:
    request: requests.PreparedRequest
    url: str
    started: float
    total: float
    connect_timeout: float | None
    read_timeout: float | None

    @property
    def target(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def body(self) -> bytes:
        body = self.request.body or b""
        return body.encode("utf-8") if isinstance(body, str) else body


def ExpectContinueAdapter(
    limits: AnswerLimits,
    continue_wait: float = CONTINUE_WAIT_SECONDS,
    pool: ConnectionPool | None = None,
) -> BoundedAdapter:
    """The adapter for paid creates."""
    return BoundedAdapter(limits, expect_continue=True, continue_wait=continue_wait, pool=pool)


# -- where acbatch may connect ------------------------------------------------------------------

_api_hosts: dict[str, int] = {}
_api_address_kinds: dict[tuple[str, int], set[str]] = {}
_kinds_lock = threading.Lock()


def address_kind(address: str) -> str:
    """'public', or which kind of non-public address this is (loopback, link-local, private...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private"
    return "public"


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def trust_api_host(base_url: str) -> None:
    """The API lives at `base_url`: when that is a non-public address (the sandbox on loopback,
    a test server on a private network), files may be fetched from addresses of the same kind.
    Resolved only when a fetch needs to know."""
    parts = urlsplit(base_url)
    if parts.hostname:
        with _kinds_lock:
            _api_hosts[parts.hostname] = parts.port or 443


def _allowed_kinds() -> set[str]:
    allowed = {"public"}
    with _kinds_lock:
        hosts = list(_api_hosts.items())
    for host, port in hosts:
        known = _api_address_kinds.get((host, port))
        if known is None:
            try:
                known = {address_kind(address) for address in resolve(host, port)}
            except (OSError, ValueError):
                continue
            _api_address_kinds[(host, port)] = known
        allowed |= known
    return allowed


def refused_address(addresses: list[str]) -> str | None:
    """The first address a fetch must not connect to, with why, or None when all are fine."""
    allowed = _allowed_kinds()
    for address in addresses:
        kind = address_kind(address)
        if kind not in allowed:
            return f"{address} is a {kind} address"
    return None
