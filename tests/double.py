"""A strict, independent double of the Podcast API, for tests and benchmarks.

It is written from the reference alone, not from acbatch's sandbox, and is deliberately
unforgiving:

- fixed latencies: a task answers `waiting` until exactly `script_latency` / `audio_latency`
  seconds after its create, then `success`;
- an exact concurrency limit: at most `concurrency` tasks unfinished at once, 101004 beyond;
- an optional rate limit: at most `rate` requests in any one-second window, 101003 beyond;
- strict requests: JSON Content-Type, the documented fields and types, speaker ids it knows,
  an audio create naming a finished script task of this server;
- counters of every create it accepted (the witness for "never paid twice"), with times;
- hostile answers on demand: `status_faults` maps (step, n-th status call of a task) to a
  reply (a code such as 100100 or 101008, an HTML page, an unknown status), and files can be
  made to disappear (404) after they were served once.

The audio is a real MP3 (a tone encoded with LAME) whose length sets the credits charged.
"""

from __future__ import annotations

import itertools
import json
import math
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCRIPT_CREATE = "/audio/api/v1/api-keys/podcast/script/create"
SCRIPT_GET = "/audio/api/v1/api-keys/podcast/script/get"
AUDIO_CREATE = "/audio/api/v1/api-keys/podcast/audio/create"
AUDIO_GET = "/audio/api/v1/api-keys/podcast/audio/get"
KNOWN_SPEAKERS = frozenset(
    {16098, 16093, 17827, 17828, 17829, 17830}
    # The Japanese, Spanish and Korean voices of the account catalog tests install
    # (conftest.account_catalog), for shows in several languages.
    | {16110, 16111, 16160, 16161, 16200, 16201}
)


def tone_mp3(seconds: float, rate: int = 16000) -> bytes:
    """A real MP3: a 440 Hz tone, mono."""
    import lameenc

    samples = int(seconds * rate)
    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(samples)
    )
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


@dataclass
class Task:
    step: str
    global_id: str
    created: float
    latency: float
    body: dict[str, Any]
    held: bool = False
    """Created while the double held tasks: it never finishes."""
    status_calls: int = 0


@dataclass
class Fault:
    """A canned answer: `code` (API code), `html` (a 200 page), or `status` (odd value)."""

    code: int | None = None
    html: bool = False
    status: str | None = None
    http: int | None = None


@dataclass
class StrictDouble:
    script_latency: float = 0.2
    audio_latency: float = 0.2
    concurrency: int = 8
    rate: int | None = None
    audio_seconds: float = 2.0
    hold: bool = False
    """Tasks created while this is True never finish (answer `waiting` forever)."""
    status_faults: dict[tuple[str, int], Fault] = field(default_factory=dict)
    """(step, n) -> the answer to the n-th (1-based) status call of every task of that step."""
    create_faults: dict[tuple[str, int], Fault] = field(default_factory=dict)
    """(step, n) -> the answer to the n-th create call of that step."""
    fail_tasks: set[str] = field(default_factory=set)
    """Episode texts (script) whose tasks end `failed`."""
    tls: ssl.SSLContext | None = None
    """Serve HTTPS with this server context (the real host is HTTPS only)."""

    def __post_init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.creates: dict[str, list[tuple[float, str]]] = {"script": [], "audio": []}
        self.create_calls: dict[str, int] = {"script": 0, "audio": 0}
        self.requests: list[tuple[float, str]] = []
        self.gone: set[str] = set()
        self.downloads: list[str] = []
        self.refusals = {101003: 0, 101004: 0}
        self.connections = 0
        """TCP connections accepted (requests / connections measures keep-alive reuse)."""
        self._lock = threading.Lock()
        self._mp3 = tone_mp3(self.audio_seconds)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- what tests read ------------------------------------------------------------------

    def created(self, step: str) -> int:
        return len(self.creates[step])

    def creates_after(self, moment: float) -> int:
        return sum(1 for step in self.creates for at, _ in self.creates[step] if at > moment)

    def source_of(self, global_id: str) -> str:
        """The source text (or URL) of the episode a task belongs to."""
        task = self.tasks[global_id]
        if task.step == "audio":
            task = self.tasks[task.body["global_id"]]
        return str(task.body.get("text") or task.body.get("url") or "")

    def creates_by_source(self) -> dict[str, list[str]]:
        """Per episode source, the steps of the creates it received, in order."""
        made: list[tuple[float, str, str]] = [
            (at, step, global_id) for step in self.creates for at, global_id in self.creates[step]
        ]
        sequence: dict[str, list[str]] = {}
        for _at, step, global_id in sorted(made):
            sequence.setdefault(self.source_of(global_id), []).append(step)
        return sequence

    def in_flight(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return sum(1 for t in self.tasks.values() if not self._finished(t, now))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> StrictDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                with double._lock:
                    double.connections += 1
                super().setup()

            def do_GET(self) -> None:
                double._serve_file(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload, kind = double._answer(self.path, dict(self.headers), raw)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        scheme = "http"
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> StrictDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the API --------------------------------------------------------------------------

    def _finished(self, task: Task, now: float) -> bool:
        return not task.held and now - task.created >= task.latency

    @staticmethod
    def _envelope(code: int, data: Any = None, message: str = "") -> bytes:
        document: dict[str, Any] = {"code": code, "message": message or "Request Success"}
        if data is not None:
            document["data"] = data
        return json.dumps(document).encode()

    def _fault(self, fault: Fault) -> tuple[int, bytes, str]:
        if fault.html:
            return 200, b"<html><body>Service temporarily unavailable</body></html>", "text/html"
        if fault.http is not None:
            return fault.http, b"upstream error", "text/plain"
        if fault.status is not None:
            return 200, self._envelope(100000, {"status": fault.status}), "application/json"
        return 200, self._envelope(fault.code or 0, None, f"code {fault.code}"), "application/json"

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, str]:
        now = time.monotonic()
        with self._lock:
            self.requests.append((now, path))
            if self.rate is not None:
                recent = sum(1 for at, _ in self.requests if now - at < 1.0)
                if recent > self.rate:
                    self.refusals[101003] += 1
                    return 200, self._envelope(101003, None, "rate"), "application/json"
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if not content_type.startswith("application/json"):
            return 415, b"Content-Type must be application/json", "text/plain"
        if not {k.lower() for k in headers} >= {"api-key"}:
            return 200, self._envelope(101002, None, "Invalid API key"), "application/json"
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, b"body is not JSON", "text/plain"
        if not isinstance(body, dict):
            return 400, b"body is not a JSON object", "text/plain"
        if path == SCRIPT_CREATE:
            return self._create("script", body, now)
        if path == AUDIO_CREATE:
            return self._create("audio", body, now)
        if path in (SCRIPT_GET, AUDIO_GET):
            return self._status("script" if path == SCRIPT_GET else "audio", body, now)
        return 404, b"no such endpoint", "text/plain"

    def _invalid(self, reason: str) -> tuple[int, bytes, str]:
        return 400, reason.encode(), "text/plain"

    def _create(self, step: str, body: dict[str, Any], now: float) -> tuple[int, bytes, str]:
        with self._lock:
            self.create_calls[step] += 1
            fault = self.create_faults.get((step, self.create_calls[step]))
        if fault is not None:
            return self._fault(fault)
        if step == "script":
            problem = self._check_script_body(body)
        else:
            problem = self._check_audio_body(body, now)
        if problem:
            return self._invalid(problem)
        with self._lock:
            if self.in_flight(now) >= self.concurrency:
                self.refusals[101004] += 1
                return (
                    200,
                    self._envelope(101004, None, "API key concurrent request limit exceeded"),
                    "application/json",
                )
            global_id = str(uuid.uuid4())
            latency = self.script_latency if step == "script" else self.audio_latency
            self.tasks[global_id] = Task(step, global_id, now, latency, body, held=self.hold)
            self.creates[step].append((now, global_id))
        return 200, self._envelope(100000, {"global_id": global_id}), "application/json"

    @staticmethod
    def _check_script_body(body: dict[str, Any]) -> str:
        kinds: dict[str, type] = {
            "source_type": int,
            "speakers": list,
            "style": int,
            "duration": int,
            "use_mode": str,
            "commercial_use": int,
            "language": str,
        }
        for name, kind in kinds.items():
            if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool):
                return f"{name} missing or not a {kind.__name__}"
        if body["source_type"] not in (1, 2, 3, 4):
            return "source_type must be 1-4"
        if not 1 <= body["style"] <= 9 or not 1 <= body["duration"] <= 7:
            return "style or duration out of range"
        if not body["speakers"] or any(s not in KNOWN_SPEAKERS for s in body["speakers"]):
            return f"unknown speaker ids {body['speakers']}"
        field_name = "text" if body["source_type"] == 4 else "url"
        if not isinstance(body.get(field_name), str) or not body[field_name]:
            return f"{field_name} is required for source_type {body['source_type']}"
        return ""

    def _check_audio_body(self, body: dict[str, Any], now: float) -> str:
        for name, kind in (
            ("title", str),
            ("processed_content", str),
            ("podcast_script", list),
            ("hightlights", list),
            ("global_id", str),
        ):
            if not isinstance(body.get(name), kind):
                return f"{name} missing or not a {kind.__name__}"
        script = self.tasks.get(body["global_id"])
        if script is None or script.step != "script" or not self._finished(script, now):
            return "global_id is not a finished script task of this account"
        for turn in body["podcast_script"]:
            if not isinstance(turn, dict) or not all(
                isinstance(turn.get(k), str) for k in ("role", "text")
            ):
                return "podcast_script turns need role and text strings"
        return ""

    def _status(self, step: str, body: dict[str, Any], now: float) -> tuple[int, bytes, str]:
        global_id = body.get("global_id")
        task = self.tasks.get(global_id) if isinstance(global_id, str) else None
        if task is None or task.step != step:
            return 200, self._envelope(101008, None, "Task not found"), "application/json"
        with self._lock:
            task.status_calls += 1
            fault = self.status_faults.get((step, task.status_calls))
        if fault is not None:
            return self._fault(fault)
        if not self._finished(task, now):
            data: dict[str, Any] = {"status": "waiting", "global_id": task.global_id}
        elif step == "script" and task.body.get("text") in self.fail_tasks:
            data = {"status": "failed", "global_id": task.global_id, "message": "bad source"}
        elif step == "script":
            data = self._script_result(task)
        else:
            data = {
                "status": "success",
                "global_id": task.global_id,
                "file_url": f"{self.url}/files/{task.global_id}.mp3",
                "title": task.body.get("title", ""),
                "processed_content": task.body.get("processed_content", ""),
                "podcast_script": task.body.get("podcast_script", []),
                "hightlights": task.body.get("hightlights", []),
                "podcast_script_txt": "",
                "create_time": int(time.time()),
            }
        return 200, self._envelope(100000, data), "application/json"

    @staticmethod
    def _script_result(task: Task) -> dict[str, Any]:
        text = str(task.body.get("text") or task.body.get("url") or "")
        words = text.split()[:12]
        turns = [
            {"role": role, "name": name, "avatar": "", "text": line, "voice_id": ""}
            for role, name, line in zip(
                itertools.cycle("AB"),
                itertools.cycle(("Host", "Guest")),
                (
                    f"Welcome. Today we talk about {' '.join(words[:6]) or 'this'}.",
                    "Thanks for having me.",
                    f"Let us start with {' '.join(words[6:12]) or 'the basics'}.",
                    "That is all for today.",
                ),
                strict=False,
            )
        ]
        return {
            "status": "success",
            "global_id": task.global_id,
            "source_data": text[:200],
            "train_data": "outline",
            "podcast_script": turns,
            "hightlights": [
                {
                    "highlight": "Opening",
                    "index": 0,
                    "script_start_index": 0,
                    "script_end_index": 1,
                },
                {
                    "highlight": "Closing",
                    "index": 1,
                    "script_start_index": 2,
                    "script_end_index": 3,
                },
            ],
            "processed_content": "A short conversation.",
            "title": f"About {' '.join(words[:3])}",
            "avatar": None,
            "podcast_script_txt": "\n".join(t["text"] for t in turns),
            "create_time": int(time.time()),
        }

    def _serve_file(self, handler: BaseHTTPRequestHandler) -> None:
        name = handler.path.rsplit("/", 1)[-1]
        global_id = name.removesuffix(".mp3")
        if not handler.path.startswith("/files/") or global_id not in self.tasks:
            handler.send_error(404)
            return
        if global_id in self.gone:
            handler.send_error(404)
            return
        self.downloads.append(global_id)
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/mpeg")
        handler.send_header("Content-Length", str(len(self._mp3)))
        handler.end_headers()
        handler.wfile.write(self._mp3)


def catalog_document(speakers: dict[str, int] | None = None) -> dict[str, Any]:
    """A voice catalog in the reference's download format, with the double's speaker ids."""
    speakers = speakers or {"ava": 16098, "leo": 16093}
    records = []
    for index, (name, voice_id) in enumerate(speakers.items()):
        records.append(
            {
                "id": voice_id,
                "gender": 2 if index % 2 == 0 else 1,
                "gender_text": "female" if index % 2 == 0 else "male",
                "language": "en",
                "age": 2,
                "age_text": "young-adult",
                "emotion": [],
                "image": f"https://resource.example.com/{name}.webp",
                "audio": f"https://resource.example.com/{name}.mp3",
                "voice_id": f"https://resource.example.com/voices/{name}.mp3",
                "tags": [],
                "name": name,
                "display_name": name.title(),
            }
        )
    return {"code": 100000, "data": {"total": len(records), "records": records}, "message": "ok"}
