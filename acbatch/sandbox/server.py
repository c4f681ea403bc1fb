"""The sandbox: a local HTTP server that speaks the Podcast API's contract offline.

Like stripe-mock or LocalStack, it serves the four documented endpoints with the same request
validation and response shapes, plus the audio files behind `file_url`, its voice catalog and
counters for tests. It binds to loopback by default and is never the real service.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from acbatch import __version__, codes
from acbatch.sandbox.backend import ApiAnswer, SandboxBackend, SandboxSettings, digest_of

BANNER = (
    "acbatch sandbox: a LOCAL imitation of the audiocleaner.ai Podcast API for demos and tests. "
    "It is not the real service; nothing here is billed or published."
)
MAX_BODY_BYTES = 4 * 1024 * 1024
# FILE_PATH's shape: a restarted sandbox serves old tasks' audio at the same path.
_FILE_PATH = re.compile(r"^/sandbox/files/([A-Za-z0-9-]{1,64})\.mp3$")
_VOICE_PATH = re.compile(r"^/sandbox/voices/([a-z0-9_-]{1,40})\.mp3$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"acbatch-sandbox/{__version__}"
    # Headers and body go out in separate writes; without this, Nagle's algorithm and delayed
    # ACKs add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    @property
    def backend(self) -> SandboxBackend:
        return self.server.backend

    # -- transport-level faults -------------------------------------------------------------------

    def _drop(self) -> None:
        """Close the connection without a response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def handle_expect_100(self) -> bool:
        faults = self.backend.settings.faults
        if self.path in codes.CREATE_ENDPOINTS and faults.drop_before:
            attempt = self.backend.next_attempt("drop_before:" + self.path, "")
            if faults.hits("drop_before", faults.drop_before, self.path, "", attempt):
                self.backend.count("faults", "drop_before")
                self.backend.count("requests", self.path)
                self._drop()
                return False
        return super().handle_expect_100()

    # -- HTTP plumbing -----------------------------------------------------------------------------

    def _send_json(self, document: dict[str, Any], status: int = 200) -> None:
        payload = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, answer: ApiAnswer) -> None:
        self.backend.count("responses", str(answer.code))
        document = {"code": answer.code, "data": None, "message": answer.message}
        self._send_json(document, answer.http_status)

    def _read_body(self) -> Any:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiAnswer(400, "Content-Type must be application/json", http_status=415)
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ApiAnswer(400, "Content-Length is required", http_status=411)
        if int(length) > MAX_BODY_BYTES:
            raise ApiAnswer(400, "request body too large", http_status=413)
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiAnswer(400, "the body must be JSON", http_status=400) from None

    def do_POST(self) -> None:
        endpoint = self.path.split("?")[0]
        backend = self.backend
        if endpoint not in codes.ENDPOINTS:
            self._send_json({"code": 404, "data": None, "message": "Not Found"}, 404)
            return
        backend.count("requests", endpoint)
        faults = backend.settings.faults
        try:
            body = self._read_body()
            digest = digest_of(body) if isinstance(body, dict) else "-"
            attempt = backend.next_attempt(endpoint, digest)
            in_scope = endpoint in faults.endpoints
            if in_scope and faults.hits("latency", faults.latency, endpoint, digest, attempt):
                backend.count("faults", "latency")
                time.sleep(faults.latency_seconds)
            is_create = endpoint in codes.CREATE_ENDPOINTS
            if (
                is_create
                and faults.hits("drop_before_body", faults.drop_before, endpoint, digest, attempt)
                and "100-continue" not in self.headers.get("Expect", "").lower()
            ):
                # A client that does not wait for 100 Continue has already sent its body: this
                # drop still happens before the create takes effect.
                backend.count("faults", "drop_before")
                self._drop()
                return
            if in_scope and faults.hits("5xx", faults.http_5xx, endpoint, digest, attempt):
                backend.count("faults", "5xx")
                self.backend.count("responses", "503")
                self._send_json({"message": "Service Unavailable"}, 503)
                return
            for code, rate in sorted(faults.error_rates.items()):
                if in_scope and faults.hits(str(code), rate, endpoint, digest, attempt):
                    backend.count("faults", str(code))
                    raise ApiAnswer(code)
            key_digest = backend.authenticate(self.headers.get("api-key"), endpoint)
            if endpoint == codes.SCRIPT_CREATE:
                data = backend.create_script(key_digest, body, attempt)
            elif endpoint == codes.AUDIO_CREATE:
                data = backend.create_audio(key_digest, body, attempt)
            elif endpoint == codes.SCRIPT_GET:
                data = backend.get("script", key_digest, body)
            else:
                data = backend.get("audio", key_digest, body)
            if is_create and faults.hits(
                "drop_after", faults.drop_after, endpoint, digest, attempt
            ):
                backend.count("faults", "drop_after")
                self._drop()
                return
        except ApiAnswer as answer:
            self._answer(answer)
            return
        backend.count("responses", str(codes.SUCCESS))
        self._send_json({"code": codes.SUCCESS, "data": data, "message": "Request Success"})

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/", "/sandbox", "/sandbox/"):
            self._send_text(BANNER + "\n")
        elif path == "/sandbox/voices.json":
            self._send_json(self.backend.catalog.to_document())
        elif path == "/sandbox/stats":
            self._send_json(self.backend.stats())
        elif match := _FILE_PATH.match(path):
            self._send_file(match.group(1))
        elif match := _VOICE_PATH.match(path):
            self._send_voice_sample(match.group(1))
        else:
            self._send_json({"code": 404, "data": None, "message": "Not Found"}, 404)

    def _send_text(self, text: str) -> None:
        payload = text.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_mp3(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_file(self, global_id: str) -> None:
        path = self.backend.files_dir / f"{global_id}.mp3"
        if not path.is_file():
            self._send_json({"code": 404, "data": None, "message": "Not Found"}, 404)
            return
        self._send_mp3(path.read_bytes())

    def _send_voice_sample(self, name: str) -> None:
        from acbatch.sandbox.catalog import profile_for_voice_id
        from acbatch.sandbox.tts import sample_mp3

        voice = self.backend.catalog.find(name)
        if voice is None:
            self._send_json({"code": 404, "data": None, "message": "Not Found"}, 404)
            return
        profile = profile_for_voice_id(
            voice.step2_voice_id, voice.language, 0, catalog=self.backend.catalog
        )
        self._send_mp3(sample_mp3(profile, f"Hello, I am {voice.display_name}."))

    do_HEAD = do_GET


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: SandboxBackend, verbose: bool) -> None:
        self.backend = backend
        self.verbose = verbose
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (killed runners, dropped connections) are not sandbox errors."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError) and not self.verbose:
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """Run the sandbox in a background thread: `with SandboxServer() as sandbox: sandbox.url`."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.backend = SandboxBackend(settings)
        chosen = self.backend.settings.port if port is None else port
        try:
            self.httpd = SandboxHTTPServer((host, chosen), self.backend, verbose)
        except OSError:
            self.backend.close()
            raise
        bound_host, bound_port = self.httpd.server_address[:2]
        host_text = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        shown_host = f"[{host_text}]" if ":" in host_text else host_text
        self.url = f"http://{shown_host}:{bound_port}"
        self.backend.public_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="acbatch-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.backend.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return self.backend.stats()


__all__ = ["BANNER", "HTTPStatus", "SandboxServer", "SandboxSettings"]
