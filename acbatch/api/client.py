"""A client for the audiocleaner.ai Podcast API that reads like the documentation.

    client = PodcastClient(api_key, base_url="https://audiocleaner.ai")
    task_id = client.create_script(request_body)
    task = client.get_script(task_id)          # Task(status="waiting" | "success" | "failed")
    audio_id = client.create_audio(body)      # step 2: acbatch.runner.bodies.audio_request

Every call is a POST with a JSON body and the `api-key` header. Each call is bounded: one
wall-clock limit (the connect timeout plus the read timeout) covers connecting and the whole
answer, the answer's body is capped while it is read (compressed and decoded), and no string in
it may pass `max_field_chars`. Everything the client returns or raises has been through the
sanitiser in acbatch.redact: no key in any spelling, no terminal controls, no lone surrogates.
Failures raise the typed exceptions in acbatch.api.errors; nothing is retried here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from acbatch import __version__, codes
from acbatch.api import errors
from acbatch.api.transport import (
    AnswerLimits,
    AnswerRefused,
    BodyNotSent,
    BoundedAdapter,
    ConnectionPool,
    ExpectContinueAdapter,
    ResponseNotReceived,
    ca_bundle,
    trust_api_host,
)
from acbatch.redact import Secret, clean_data, header_value_problem, redact

USER_AGENT = f"acbatch/{__version__} (+https://pypi.org/project/acbatch/)"
GLOBAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CONNECT_CAUSES = ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError")

# Fields of a successful task that later steps rely on, with their documented types.
_SCRIPT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "podcast_script": list,
    "hightlights": list,
    "title": str,
    "processed_content": str,
}
_AUDIO_FIELDS: dict[str, type | tuple[type, ...]] = {"file_url": str}
_SCRIPT_TURN_FIELDS: dict[str, type | tuple[type, ...]] = {"role": str, "text": str}

RequestHook = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Task:
    """A task as a status call returns it."""

    global_id: str
    status: str
    data: dict[str, Any]

    @property
    def waiting(self) -> bool:
        return self.status == codes.STATUS_WAITING

    @property
    def succeeded(self) -> bool:
        return self.status == codes.STATUS_SUCCESS

    @property
    def failed(self) -> bool:
        return self.status == codes.STATUS_FAILED

    @property
    def failure_reason(self) -> str:
        for key in ("message", "error", "reason", "fail_reason", "msg"):
            value = self.data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
        return "the service reported the task as failed without a reason"


def _cause_names(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield type(current).__name__
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)


def _classify_transport(exc: requests.RequestException, endpoint: str) -> errors.TransportError:
    if isinstance(exc, BodyNotSent | requests.exceptions.ConnectTimeout):
        return errors.RequestNotSent(f"could not send the request: {exc}", endpoint=endpoint)
    if isinstance(exc, ResponseNotReceived | requests.exceptions.ReadTimeout):
        return errors.ResponseLost(f"no response after sending: {exc}", endpoint=endpoint)
    if any(name in _CONNECT_CAUSES for name in _cause_names(exc)):
        return errors.RequestNotSent(f"could not connect: {exc}", endpoint=endpoint)
    return errors.ResponseLost(f"connection lost: {exc}", endpoint=endpoint)


def _check_fields(
    data: dict[str, Any], fields: dict[str, type | tuple[type, ...]], endpoint: str, where: str
) -> None:
    for name, kind in fields.items():
        if name not in data:
            raise errors.InvalidResponse(f"{where} lacks '{name}'", endpoint=endpoint)
        if not isinstance(data[name], kind):
            raise errors.InvalidResponse(
                f"{where} has '{name}' of type {type(data[name]).__name__}", endpoint=endpoint
            )


def _longest_string(value: Any, where: str = "data") -> tuple[int, str]:
    """(length, location) of the longest string in decoded JSON, keys included."""
    best = (0, where)
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if len(item) > best[0]:
                best = (len(item), path)
        elif isinstance(item, dict):
            for key, child in item.items():
                if len(key) > best[0]:
                    best = (len(key), f"{path} key")
                stack.append((child, f"{path}.{str(key)[:40]}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return best


def check_global_id(value: object, endpoint: str) -> str:
    if not isinstance(value, str) or not GLOBAL_ID_PATTERN.match(value) or ".." in value:
        raise errors.InvalidResponse(
            f"the response's global_id is not a plain task id: {str(value)[:80]!r}",
            endpoint=endpoint,
        )
    return value


class PodcastClient:
    def __init__(
        self,
        api_key: str | Secret,
        base_url: str = codes.API_DEFAULT_BASE,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        session: requests.Session | None = None,
        on_request: RequestHook | None = None,
        max_answer_bytes: int | None = None,
        max_field_chars: int | None = None,
    ) -> None:
        """`read_timeout`: seconds for the whole answer once connected, not per byte.

        `max_field_chars`: the longest string kept from an answer. A limit left as None is
        acbatch.yaml's default (the show schema's).
        """
        from acbatch.project.defaults import api_defaults

        defaults = api_defaults()
        if connect_timeout is None:
            connect_timeout = defaults.timeouts.connect
        if read_timeout is None:
            read_timeout = defaults.timeouts.read
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self.base_url = base_url.rstrip("/")
        trust_api_host(self.base_url)
        self.timeout = (connect_timeout, read_timeout)
        self.max_field_chars = (
            defaults.max_field_chars if max_field_chars is None else max_field_chars
        )
        self.limits = AnswerLimits(
            total_seconds=connect_timeout + read_timeout,
            max_bytes=defaults.max_answer_bytes if max_answer_bytes is None else max_answer_bytes,
        )
        if session is None:
            session = requests.Session()
            # requests would read the environment on every call (proxies, which the adapters
            # below do not use, and ~/.netrc, whose credentials are not for the API): a scan
            # of every variable, about a third of a status call's own time. The certificate
            # authorities it reads there are read once instead.
            session.trust_env = False
            session.verify = ca_bundle()
        self.session = session
        self.session.headers["User-Agent"] = USER_AGENT
        # One pool of kept-alive connections for status calls and creates alike.
        self.connections = ConnectionPool()
        self.session.mount(self.base_url + "/", BoundedAdapter(self.limits, pool=self.connections))
        create_adapter = ExpectContinueAdapter(limits=self.limits, pool=self.connections)
        for endpoint in codes.CREATE_ENDPOINTS:
            self.session.mount(self.base_url + endpoint, create_adapter)
        self.on_request = on_request
        self.requests_sent = 0
        self.poll_read_timeout: float | None = None
        """A shorter read timeout for status calls (None: the read timeout)."""

    def __repr__(self) -> str:
        return f"PodcastClient(base_url={self.base_url!r}, api_key={self._key!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PodcastClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the four documented endpoints -------------------------------------------------------

    def create_script(self, body: dict[str, Any]) -> str:
        """Step 1 create: returns the new task's global_id."""
        data = self._call(codes.SCRIPT_CREATE, body)
        return check_global_id(data.get("global_id"), codes.SCRIPT_CREATE)

    def get_script(self, global_id: str) -> Task:
        task = self._task(codes.SCRIPT_GET, global_id)
        if task.succeeded:
            _check_fields(task.data, _SCRIPT_FIELDS, codes.SCRIPT_GET, "the finished script")
            for index, turn in enumerate(task.data["podcast_script"]):
                if not isinstance(turn, dict):
                    raise errors.InvalidResponse(
                        f"podcast_script[{index}] is not an object", endpoint=codes.SCRIPT_GET
                    )
                _check_fields(
                    turn, _SCRIPT_TURN_FIELDS, codes.SCRIPT_GET, f"podcast_script[{index}]"
                )
        return task

    def create_audio(self, body: dict[str, Any]) -> str:
        """Step 2 create: returns the audio task's global_id."""
        data = self._call(codes.AUDIO_CREATE, body)
        return check_global_id(data.get("global_id"), codes.AUDIO_CREATE)

    def get_audio(self, global_id: str) -> Task:
        task = self._task(codes.AUDIO_GET, global_id)
        if task.succeeded:
            _check_fields(task.data, _AUDIO_FIELDS, codes.AUDIO_GET, "the finished audio task")
            if not task.data["file_url"].lower().startswith(("http://", "https://")):
                raise errors.InvalidResponse(
                    "file_url is not an http(s) URL", endpoint=codes.AUDIO_GET, processed=True
                )
        return task

    # -- plumbing ------------------------------------------------------------------------------

    def _task(self, endpoint: str, global_id: str) -> Task:
        data = self._call(endpoint, {"global_id": global_id})
        status = data.get("status")
        if status not in codes.TASK_STATUSES:
            raise errors.InvalidResponse(
                f"unknown task status {str(status)[:40]!r}", endpoint=endpoint, processed=True
            )
        returned_id = data.get("global_id", global_id)
        if returned_id != global_id:
            raise errors.InvalidResponse(
                "the response is for a different task", endpoint=endpoint, processed=True
            )
        return Task(global_id=global_id, status=status, data=data)

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        is_create = endpoint in codes.CREATE_ENDPOINTS
        unknown: bool | None = None if is_create else True
        problem = header_value_problem(self._key.reveal())
        if problem is not None:
            raise errors.UnusableApiKey(problem, endpoint=endpoint)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "api-key": self._key.reveal(),
        }
        if self.on_request is not None:
            self.on_request(endpoint, body)
        self.requests_sent += 1
        try:
            response = self.session.post(
                self.base_url + endpoint,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers=headers,
                timeout=self.timeout
                if is_create or self.poll_read_timeout is None
                else (self.timeout[0], self.poll_read_timeout),
                allow_redirects=False,
            )
        except AnswerRefused as exc:
            raise errors.InvalidResponse(
                f"{endpoint}: {exc}", endpoint=endpoint, processed=unknown
            ) from None
        except requests.RequestException as exc:
            raise _classify_transport(exc, endpoint) from None

        try:
            document = clean_data(json.loads(response.content))
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("code"), int):
            if response.status_code >= 300:
                refused = response.status_code in (429, 503)
                raise errors.HttpStatusError(
                    f"HTTP {response.status_code} from {endpoint}",
                    status=response.status_code,
                    endpoint=endpoint,
                    processed=False if (refused or not is_create) else None,
                )
            raise errors.InvalidResponse(
                f"HTTP {response.status_code} from {endpoint} without a JSON API response "
                f"({redact(response.text[:80])!r})",
                endpoint=endpoint,
                processed=unknown,
            )
        code = document["code"]
        if code != codes.SUCCESS:
            message = document.get("message")
            raise errors.error_for_code(code, message if isinstance(message, str) else "", endpoint)
        data = document.get("data")
        if not isinstance(data, dict):
            raise errors.InvalidResponse(
                f"{endpoint} answered success without a data object",
                endpoint=endpoint,
                processed=unknown,
            )
        length, where = _longest_string(data)
        if length > self.max_field_chars:
            raise errors.InvalidResponse(
                f"{endpoint} answered a {length}-character {where}, over the "
                f"{self.max_field_chars}-character limit for a stored field",
                endpoint=endpoint,
                processed=unknown,
            )
        return data
