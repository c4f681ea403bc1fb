"""The sandbox against the reference documentation, endpoint by endpoint and field by field.

The reference text (a copy of the published API documentation) is parsed here: each endpoint's
success example and field table say which fields a response carries and of which JSON type, and
each endpoint's code table says which codes it may answer. The sandbox and acbatch's code table
must agree with all of it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from acbatch import codes
from acbatch.api.client import PodcastClient
from tests.conftest import audio_request_from_script

REFERENCE = Path(__file__).parent / "data" / "audiocleaner-podcast-api.txt"
JSON_TYPES = {"string": str, "array": list, "number": (int, float), "object": dict}


def sections() -> dict[str, str]:
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"\nEndpoint\n\nPOST (\S+)\n", text)
    found = {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}
    assert set(found) == set(codes.ENDPOINTS), "the reference's endpoints changed"
    return found


def success_example(section: str) -> dict[str, Any]:
    start = section.index("Return Format (Success Example)")
    opening = section.index("{", start)
    depth = 0
    for position in range(opening, len(section)):
        depth += {"{": 1, "}": -1}.get(section[position], 0)
        if depth == 0:
            return json.loads(section[opening : position + 1])
    raise AssertionError("unterminated example")


def field_table(section: str) -> dict[str, type | tuple[type, ...]]:
    rows = re.findall(r"^data\.(\w+)(string|array|number|object)", section, re.MULTILINE)
    return {name: JSON_TYPES[kind] for name, kind in rows}


def code_table(section: str) -> set[int]:
    start = section.index("Response Code (code) Description")
    table = section[start:].split("\n\n", 2)[1] if "\n\n" in section[start:] else ""
    return {int(code) for code in re.findall(r"^(\d{6})", table, re.MULTILINE)}


def json_type_of(value: Any) -> str:
    if value is None:
        return "null"
    return {
        str: "string",
        list: "array",
        int: "number",
        float: "number",
        dict: "object",
        bool: "boolean",
    }[type(value)]


@pytest.fixture(scope="module")
def finished_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from acbatch.sandbox.backend import SandboxSettings
    from acbatch.sandbox.server import SandboxServer

    with SandboxServer(SandboxSettings(script_delay=0.01, audio_delay=0.01)) as server:
        client = PodcastClient("conformance-key", server.url)
        raw: dict[str, dict[str, Any]] = {}
        example = success_example(sections()[codes.SCRIPT_CREATE])
        assert set(example["data"]) == {"global_id"}
        script_body = {
            "source_type": 4,
            "speakers": [16098, 16093],
            "style": 1,
            "duration": 1,
            "use_mode": "ai",
            "commercial_use": 0,
            "language": "en",
            "text": "Faced with growing backlash, the council paused the plan. Residents spoke.",
        }
        script_id = client.create_script(script_body)
        raw[codes.SCRIPT_CREATE] = {"global_id": script_id}
        while (script := client.get_script(script_id)).waiting:
            time.sleep(0.02)
        raw[codes.SCRIPT_GET] = script.data
        audio_id = client.create_audio(audio_request_from_script(script.data, script_id))
        raw[codes.AUDIO_CREATE] = {"global_id": audio_id}
        while (audio := client.get_audio(audio_id)).waiting:
            time.sleep(0.02)
        raw[codes.AUDIO_GET] = audio.data
        return raw


@pytest.mark.parametrize("endpoint", codes.ENDPOINTS)
def test_every_documented_field_is_present_with_its_type(
    endpoint: str, finished_tasks: dict[str, dict[str, Any]]
) -> None:
    section = sections()[endpoint]
    example = success_example(section)
    assert example["code"] == codes.SUCCESS and example["message"] == "Request Success"
    data = finished_tasks[endpoint]
    for name, value in example["data"].items():
        assert name in data, f"{endpoint}: documented field {name!r} missing"
        if value is not None:
            assert json_type_of(data[name]) == json_type_of(value), (endpoint, name)
    for name, kind in field_table(section).items():
        assert isinstance(data[name], kind), (endpoint, name)


@pytest.mark.parametrize("endpoint", codes.ENDPOINTS)
def test_code_table_matches_the_reference(endpoint: str) -> None:
    documented = code_table(sections()[endpoint])
    ours = {c.code for c in codes.RESPONSE_CODES.values() if endpoint in c.endpoints}
    assert documented == ours


def test_reference_enumerations_match_the_code_table() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    styles = dict(
        re.findall(
            r"^(\d)(Educational|Interview|Deep Dive|Storytelling|News Report|"
            r"Talk Show|Personal Growth|Funny|Roast)$",
            text,
            re.MULTILINE,
        )
    )
    assert {int(k): v.lower().replace(" ", "-") for k, v in styles.items()} == codes.STYLE_NAMES
    languages = re.findall(
        r"^[A-Z][a-z]+(?: Chinese)?(zh|zh_yue|en|ar|ru|es|fr|pt|de|ja|ko)$", text, re.MULTILINE
    )
    assert set(languages) == set(codes.LANGUAGES)
    levels = re.findall(r"^([1-7])(\d+)-(\d+) minutes?$", text, re.MULTILINE)
    assert [(int(a), int(b), int(c)) for a, b, c in levels] == [
        (d.level, int(d.min_minutes), int(d.max_minutes)) for d in codes.DURATIONS
    ]


def test_credit_rule_matches_the_reference_table() -> None:
    assert codes.credits_for_minutes(0.5) == 10
    assert codes.credits_for_minutes(1.9) == 10
    assert codes.credits_for_minutes(2.0) == 20
    assert codes.credits_for_minutes(5.9) == 50
    assert codes.credit_range(2) == (10, 30)
