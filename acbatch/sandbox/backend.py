"""The sandbox's model of the service: keys, credits, limits, tasks and their results.

Pure Python and thread-safe; acbatch.sandbox.server puts HTTP in front of it. It follows the
reference documentation: tasks go `waiting` -> `success` | `failed`; audio costs
max(10, floor(minutes) x 10) credits, and a balance too small for a task is set to zero.

With `SandboxSettings.state_dir`, tasks outlive the process: every task is kept as one JSON
file (written atomically) beside its audio, and a new backend on the same folder answers for
the old task ids, finishing the work a killed process left undone.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.sandbox.faults import FaultPlan
from acbatch.voices import VoiceCatalog

FILE_PATH = "/sandbox/files/{global_id}.mp3"
"""Where the server serves a finished audio task's MP3; `file_url` is this on the current host,
so a restarted sandbox on another port hands out working URLs for old tasks."""
_FILE_URL = re.compile(r"^https?://[^/]+(/sandbox/files/[A-Za-z0-9-]{1,64}\.mp3)$")


def rebase_file_url(file_url: str, sandbox_url: str) -> str:
    """A sandbox `file_url` recorded by an earlier sandbox process, on the current one.

    The path is stable across restarts (FILE_PATH); only host and port change. URLs that are
    not a sandbox file are returned unchanged.
    """
    match = _FILE_URL.match(file_url)
    return sandbox_url.rstrip("/") + match.group(1) if match else file_url


TASKS_FOLDER = "tasks"
FILES_FOLDER = "files"
ACCOUNT_FILE = "account.json"


class TaskFailure(Exception):
    """The work behind a task failed; the message is what a status call reports."""


@dataclass
class SandboxSettings:
    script_delay: float = 0.3
    """Seconds a script task stays `waiting` (at least; synthesis may take longer)."""
    audio_delay: float = 0.3
    synthesize: bool = True
    """False: audio tasks return a short silent MP3 (for throughput benchmarks)."""
    credits: int | None = None
    """Starting balance; None for unlimited."""
    rate_limit: int | None = None
    """Requests per second per key (101003 beyond it)."""
    concurrency_limit: int | None = None
    """Tasks `waiting` at once per key (101004 on creates beyond it)."""
    keys: frozenset[str] | None = None
    """Accepted keys; None accepts any non-empty key."""
    suspended_keys: frozenset[str] = frozenset()
    disabled_keys: frozenset[str] = frozenset()
    faults: FaultPlan = field(default_factory=FaultPlan)
    workers: int = 2
    data_dir: Path | None = None
    """Where audio files go when there is no `state_dir` (None: a temporary folder)."""
    state_dir: Path | None = None
    """Keep tasks, results, audio and the balance here so they survive restarts (None: in
    memory only, gone with the process). Any port can serve the same folder."""
    port: int = 0
    """The loopback port SandboxServer binds when not given one (0: any free port). Old tasks
    do not need the same port: their state is in `state_dir`, their URLs follow the server."""
    catalog: VoiceCatalog | None = None
    """The voice catalog whose speaker ids the sandbox accepts and voices (None: its own
    demo catalog). Pass a user's real catalog to run their specs offline."""
    fetch_timeout: float = 10.0


@dataclass
class SandboxTask:
    kind: str  # "script" | "audio"
    global_id: str
    key_digest: str
    request: dict[str, Any]
    digest: str
    created: float
    ready_at: float
    future: Future[dict[str, Any]]
    fail_reason: str | None = None
    charged: bool = False
    created_wall: float = 0.0
    """time.time() at the create, kept across restarts."""
    ready_wall: float = 0.0
    """time.time() before which the task answers `waiting`."""

    def status(self, now: float) -> str:
        if now < self.ready_at or not self.future.done():
            return codes.STATUS_WAITING
        if self.fail_reason or self.future.exception() is not None:
            return codes.STATUS_FAILED
        return codes.STATUS_SUCCESS


class ApiAnswer(Exception):
    """Raised inside the backend to answer with a documented code instead of data."""

    def __init__(self, code: int, message: str | None = None, http_status: int = 200) -> None:
        documented = codes.RESPONSE_CODES.get(code)
        self.code = code
        self.message = message or (documented.message if documented else "Bad Request")
        self.http_status = http_status
        super().__init__(self.message)


def digest_of(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _is_task_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and record.get("kind") in ("script", "audio")
        and isinstance(record.get("global_id"), str)
        and isinstance(record.get("key_digest"), str)
        and isinstance(record.get("request"), dict)
        and isinstance(record.get("created", 0), (int, float))
        and isinstance(record.get("ready", 0), (int, float))
        and isinstance(record.get("result", {}), dict)
    )


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Write via a temporary file and rename, so a killed process leaves old or new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


class SandboxBackend:
    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._lock = threading.RLock()
        self._tasks: dict[str, SandboxTask] = {}
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._request_times: dict[str, deque[float]] = {}
        self.balance = self.settings.credits
        self.counters: dict[str, Counter[str]] = {
            "requests": Counter(),
            "responses": Counter(),
            "tasks_created": Counter(),
            "faults": Counter(),
        }
        self.creates_by_work: Counter[str] = Counter()
        self._pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="sandbox-work")
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        self.state_dir = Path(self.settings.state_dir) if self.settings.state_dir else None
        self.tasks_dir: Path | None = None
        if self.state_dir is not None:
            self.tasks_dir = self.state_dir / TASKS_FOLDER
            self.tasks_dir.mkdir(parents=True, exist_ok=True)
            self.files_dir = self.state_dir / FILES_FOLDER
        elif self.settings.data_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="acbatch-sandbox-")
            self.files_dir = Path(self._own_dir.name)
        else:
            self.files_dir = Path(self.settings.data_dir)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.public_url = "http://127.0.0.1"
        self.catalog = self._catalog()
        self._load_state()

    def _catalog(self) -> VoiceCatalog:
        if self.settings.catalog is not None:
            return self.settings.catalog
        from acbatch.sandbox.catalog import sandbox_catalog

        return sandbox_catalog()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._own_dir is not None:
            self._own_dir.cleanup()

    # -- state that survives restarts ----------------------------------------------------------

    def _task_path(self, global_id: str) -> Path | None:
        return self.tasks_dir / f"{global_id}.json" if self.tasks_dir is not None else None

    def _save_task(self, task: SandboxTask, done: Future[dict[str, Any]] | None = None) -> None:
        path = self._task_path(task.global_id)
        if path is None:
            return
        future = done or task.future
        record: dict[str, Any] = {
            "kind": task.kind,
            "global_id": task.global_id,
            "key_digest": task.key_digest,
            "request": task.request,
            "work_id": task.digest,
            "created": task.created_wall,
            "ready": task.ready_wall,
            "fail_reason": task.fail_reason,
            "charged": task.charged,
        }
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is not None:
                record["error"] = str(error) or "Task failed"
            else:
                record["result"] = future.result()
        with self._lock:
            _write_json_atomically(path, record)

    def _save_account(self) -> None:
        if self.state_dir is not None and self.settings.credits is not None:
            _write_json_atomically(self.state_dir / ACCOUNT_FILE, {"balance": self.balance})

    def _load_state(self) -> None:
        """Take over the tasks of an earlier process; unfinished work is started again."""
        if self.tasks_dir is None or self.state_dir is None:
            return
        account = self.state_dir / ACCOUNT_FILE
        if self.settings.credits is not None and account.is_file():
            try:
                balance = json.loads(account.read_text(encoding="utf-8")).get("balance")
            except (OSError, ValueError, AttributeError):
                balance = None
            if isinstance(balance, int):
                self.balance = balance
        records = []
        for path in self.tasks_dir.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a file that is not ours, or damaged: the task is lost, as on a crash
            if _is_task_record(record):
                records.append(record)
        now_wall, now = time.time(), time.monotonic()
        # Script tasks first: an unfinished audio task reads its script task's result.
        for record in sorted(records, key=lambda r: (r["kind"] != "script", r.get("created", 0))):
            future: Future[dict[str, Any]] = Future()
            task = SandboxTask(
                kind=record["kind"],
                global_id=record["global_id"],
                key_digest=record["key_digest"],
                request=record["request"],
                digest=record.get("work_id", ""),
                created=now,
                ready_at=now + max(0.0, float(record.get("ready", 0)) - now_wall),
                future=future,
                fail_reason=record.get("fail_reason"),
                charged=bool(record.get("charged")),
                created_wall=float(record.get("created", now_wall)),
                ready_wall=float(record.get("ready", now_wall)),
            )
            self._tasks[task.global_id] = task
            self.counters["tasks_created"][task.kind] += 1
            self.creates_by_work[task.digest] += 1
            if "result" in record:
                future.set_result(record["result"])
            elif "error" in record:
                future.set_exception(TaskFailure(record["error"]))
            else:
                task.future = self._submit(task)

    def _submit(self, task: SandboxTask) -> Future[dict[str, Any]]:
        work = self._write_script if task.kind == "script" else self._make_audio
        future = self._pool.submit(work, task.global_id, task.request)
        # The callback may run before `task.future` is set: it saves the future it is given.
        future.add_done_callback(functools.partial(self._finished, task))
        return future

    def _finished(self, task: SandboxTask, done: Future[dict[str, Any]]) -> None:
        if not done.cancelled():  # cancelled: the process is closing; the next one redoes it
            self._save_task(task, done)

    # -- bookkeeping shared with the HTTP layer -------------------------------------------------

    def next_attempt(self, endpoint: str, digest: str) -> int:
        with self._lock:
            self._attempts[(endpoint, digest)] += 1
            return self._attempts[(endpoint, digest)]

    def count(self, group: str, name: str) -> None:
        with self._lock:
            self.counters[group][name] += 1

    def stats(self) -> dict[str, Any]:
        """Counters for tests. With a state folder, `tasks`, `tasks_created` and
        `duplicate_work` count every task the folder holds, from earlier processes too;
        requests, responses and faults count this process only."""
        with self._lock:
            duplicated = sorted(w for w, n in self.creates_by_work.items() if n > 1)
            return {
                **{name: dict(counter) for name, counter in self.counters.items()},
                "tasks": len(self._tasks),
                "balance": self.balance,
                "duplicate_work": duplicated,
            }

    def task(self, global_id: str) -> SandboxTask | None:
        with self._lock:
            return self._tasks.get(global_id)

    def tasks(self) -> list[SandboxTask]:
        with self._lock:
            return list(self._tasks.values())

    # -- checks every endpoint makes --------------------------------------------------------

    def authenticate(self, key: str | None, endpoint: str) -> str:
        s = self.settings
        if not key or (s.keys is not None and key not in s.keys):
            raise ApiAnswer(codes.INVALID_KEY)
        if endpoint in codes.CREATE_ENDPOINTS:
            if key in s.suspended_keys:
                raise ApiAnswer(codes.SUSPENDED)
            if key in s.disabled_keys:
                raise ApiAnswer(codes.NOT_ENABLED)
        self._check_rate(key)
        return _key_digest(key)

    def _check_rate(self, key: str) -> None:
        limit = self.settings.rate_limit
        if not limit:
            return
        now = time.monotonic()
        with self._lock:
            window = self._request_times.setdefault(key, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= limit:
                raise ApiAnswer(codes.RATE_LIMITED)
            window.append(now)

    def _check_create_allowed(self, key_digest: str, minimum_credits: int) -> None:
        now = time.monotonic()
        with self._lock:
            if self.balance is not None and self.balance < minimum_credits:
                raise ApiAnswer(codes.INSUFFICIENT_CREDITS)
            limit = self.settings.concurrency_limit
            if limit:
                waiting = sum(
                    1
                    for t in self._tasks.values()
                    if t.key_digest == key_digest and t.status(now) == codes.STATUS_WAITING
                )
                if waiting >= limit:
                    raise ApiAnswer(codes.CONCURRENCY_LIMITED)

    # -- the four endpoints ----------------------------------------------------------------------

    def create_script(self, key_digest: str, body: dict[str, Any], attempt: int) -> dict[str, Any]:
        request = validate_script_request(body)
        unknown = [s for s in request["speakers"] if self.catalog.by_id(s) is None]
        if unknown:
            listed = ", ".join(str(s) for s in unknown)
            raise _bad(f"unknown speaker ids: {listed} (not in this account's voice catalog)")
        self._check_create_allowed(key_digest, 1)
        work_id = "script:" + digest_of(request)
        return {"global_id": self._start("script", key_digest, request, work_id, attempt)}

    def create_audio(self, key_digest: str, body: dict[str, Any], attempt: int) -> dict[str, Any]:
        request = validate_audio_request(body)
        script = self.task(request["global_id"])
        if script is None or script.kind != "script" or script.key_digest != key_digest:
            raise _bad("global_id is not a script task of this API key")
        if script.status(time.monotonic()) != codes.STATUS_SUCCESS:
            raise _bad("global_id is not a finished, successful script task")
        self._check_create_allowed(key_digest, 10)
        work_id = "audio:" + request["global_id"] + ":" + digest_of(request)
        return {"global_id": self._start("audio", key_digest, request, work_id, attempt)}

    def get(self, kind: str, key_digest: str, body: dict[str, Any]) -> dict[str, Any]:
        global_id = body.get("global_id") if isinstance(body, dict) else None
        if not isinstance(global_id, str) or not global_id:
            raise ApiAnswer(400, "global_id is required", http_status=400)
        task = self.task(global_id)
        if task is None or task.kind != kind or task.key_digest != key_digest:
            raise ApiAnswer(codes.TASK_NOT_FOUND)
        return self._describe(task)

    # -- tasks -------------------------------------------------------------------------------------

    def _start(
        self, kind: str, key_digest: str, request: dict[str, Any], work_id: str, attempt: int
    ) -> str:
        faults = self.settings.faults
        global_id = str(uuid.uuid4())
        delay = self.settings.script_delay if kind == "script" else self.settings.audio_delay
        now = time.monotonic()
        fail_reason = None
        if faults.hits("fail_task", faults.fail_task, kind, work_id, attempt):
            fail_reason = "Task failed: injected failure (sandbox fault injection)"
            self.count("faults", "fail_task")
        wall = time.time()
        task = SandboxTask(
            kind=kind,
            global_id=global_id,
            key_digest=key_digest,
            request=request,
            digest=work_id,
            created=now,
            ready_at=now + delay,
            future=Future(),
            fail_reason=fail_reason,
            created_wall=wall,
            ready_wall=wall + delay,
        )
        # Recorded before the create is answered: a task id handed out is never forgotten.
        self._save_task(task)
        with self._lock:
            self._tasks[global_id] = task
            self.counters["tasks_created"][kind] += 1
            self.creates_by_work[work_id] += 1
            task.future = self._submit(task)
        return global_id

    def _describe(self, task: SandboxTask) -> dict[str, Any]:
        status = task.status(time.monotonic())
        data: dict[str, Any] = {"status": status, "global_id": task.global_id}
        if status == codes.STATUS_FAILED:
            error = task.future.exception() if task.future.done() else None
            data["message"] = task.fail_reason or str(error) or "Task failed"
            return data
        if status == codes.STATUS_WAITING:
            return data
        result = task.future.result()
        if task.kind == "audio":
            self._charge(task, result)
        data.update(result)
        data.pop("_duration", None)
        if task.kind == "audio":
            data["file_url"] = self.public_url + FILE_PATH.format(global_id=task.global_id)
        return data

    def _charge(self, task: SandboxTask, result: dict[str, Any]) -> None:
        with self._lock:
            if task.charged:
                return
            task.charged = True
            if self.balance is not None:
                cost = codes.credits_for_seconds(result.get("_duration", 0.0))
                self.balance = max(0, self.balance - cost)
            self._save_account()
            self._save_task(task)

    def _write_script(self, global_id: str, request: dict[str, Any]) -> dict[str, Any]:
        from acbatch.sandbox import scriptwriter

        source_text, source_data = self._source_text(request)
        speakers = [self.catalog.by_id(speaker) for speaker in request["speakers"]]
        result = scriptwriter.write_script(
            source_text,
            style=request["style"],
            duration=request["duration"],
            language=request["language"],
            speakers=speakers,
            source_data=source_data,
        )
        result.update(
            global_id=global_id,
            create_time=int(time.time()),
            language=request["language"],
        )
        if request["source_type"] == codes.SourceType.YOUTUBE:
            result["train_data"] = scriptwriter.YOUTUBE_NOTE + "\n" + result["train_data"]
        return result

    def _source_text(self, request: dict[str, Any]) -> tuple[str, str]:
        source_type = request["source_type"]
        if source_type == codes.SourceType.TEXT:
            text = request["text"]
            return text, text[:200]
        url = request["url"]
        if source_type == codes.SourceType.YOUTUBE:
            from acbatch.sandbox.scriptwriter import youtube_stand_in

            return youtube_stand_in(url, request["language"]), url
        from acbatch.sandbox.fetch import fetch_source_text

        return fetch_source_text(url, timeout=self.settings.fetch_timeout), url

    def _make_audio(self, global_id: str, request: dict[str, Any]) -> dict[str, Any]:
        from acbatch.sandbox.audio_step import render_speech

        step1 = self.task(request["global_id"])
        language = "en"
        extra: dict[str, Any] = {}
        if step1 is not None and step1.kind == "script":
            language = step1.request.get("language", "en")
            # Only after a restart can the script task still be running (it was queued first).
            with contextlib.suppress(Exception):
                step1.future.exception(timeout=120)
            if step1.future.done() and step1.future.exception() is None:
                done = step1.future.result()
                extra = {k: done.get(k) for k in ("source_data", "train_data")}
        path = self.files_dir / f"{global_id}.mp3"
        speech = render_speech(
            request, language, path, synthesize=self.settings.synthesize, catalog=self.catalog
        )
        return {
            "file_url": FILE_PATH.format(global_id=global_id),
            "source_data": extra.get("source_data") or "",
            "train_data": extra.get("train_data") or "",
            "podcast_script": speech.script,
            "hightlights": speech.highlights,
            "processed_content": request["processed_content"],
            "title": request["title"],
            "avatar": "",
            "podcast_script_txt": "\n".join(
                f"{turn.get('name') or turn['role']}: {turn['text']}" for turn in speech.script
            ),
            "create_time": int(time.time()),
            "_duration": speech.duration,
        }


# -- request validation, field for field as the reference documents them ------------------------


def _bad(message: str) -> ApiAnswer:
    return ApiAnswer(400, message, http_status=400)


def _require(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in body:
        raise _bad(f"{name} is required")
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _bad(f"{name} has the wrong type")
    return value


def validate_script_request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    source_type = _require(body, "source_type", int)
    if source_type not in {t.value for t in codes.SourceType}:
        raise _bad("source_type must be 1, 2, 3 or 4")
    speakers = _require(body, "speakers", list)
    if not speakers or not all(isinstance(s, int) and not isinstance(s, bool) for s in speakers):
        raise _bad("speakers must be a non-empty list of speaker ids")
    style = _require(body, "style", int)
    if style not in codes.STYLE_NAMES:
        raise _bad("style must be 1-9")
    duration = _require(body, "duration", int)
    if duration not in codes.DURATION_BY_LEVEL:
        raise _bad("duration must be 1-7")
    use_mode = _require(body, "use_mode", str)
    commercial_use = _require(body, "commercial_use", int)
    if commercial_use not in (0, 1):
        raise _bad("commercial_use must be 0 or 1")
    language = _require(body, "language", str)
    if language not in codes.LANGUAGES:
        raise _bad("language is not supported")
    request = {
        "source_type": source_type,
        "speakers": speakers,
        "style": style,
        "duration": duration,
        "use_mode": use_mode,
        "commercial_use": commercial_use,
        "language": language,
    }
    if source_type == codes.SourceType.TEXT:
        text = _require(body, "text", str)
        if not text.strip():
            raise _bad("text is required when source_type=4")
        request["text"] = text
    else:
        url = _require(body, "url", str)
        if not url.lower().startswith(("http://", "https://")):
            raise _bad("url must be an http(s) URL")
        request["url"] = url
    return request


def validate_audio_request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    title = _require(body, "title", str)
    processed_content = _require(body, "processed_content", str)
    script = _require(body, "podcast_script", list)
    if not script:
        raise _bad("podcast_script must not be empty")
    for index, turn in enumerate(script):
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            raise _bad(f"podcast_script[{index}] needs a text")
        if not isinstance(turn.get("role"), str):
            raise _bad(f"podcast_script[{index}] needs a role")
        for name in ("name", "avatar", "voice_id"):
            if turn.get(name) is not None and not isinstance(turn[name], str):
                raise _bad(f"podcast_script[{index}].{name} has the wrong type")
    highlights = _require(body, "hightlights", list)
    for index, item in enumerate(highlights):
        if not isinstance(item, dict) or not isinstance(item.get("highlight"), str):
            raise _bad(f"hightlights[{index}] needs a highlight text")
        for name in ("index", "script_start_index", "script_end_index"):
            value = item.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise _bad(f"hightlights[{index}].{name} has the wrong type")
    global_id = _require(body, "global_id", str)
    if not global_id:
        raise _bad("global_id is required")
    return {
        "title": title,
        "processed_content": processed_content,
        "podcast_script": script,
        "hightlights": highlights,
        "global_id": global_id,
    }
