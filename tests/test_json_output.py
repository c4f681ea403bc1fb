"""Every `--json` output: one envelope, a published schema, and real outputs that match it.

The commands run for real (subprocesses on a small show, a sandbox run for state, a live key
check against a loopback sandbox), and each output is validated with jsonschema against
schemas/output/<kind>.schema.json. The schemas' closed sets (plan actions, run outcomes,
phases) are compared with the enums in the code, so a new value cannot slip past the schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from jsonschema import Draft202012Validator

from acbatch.cli import COMMANDS, cli
from acbatch.commands._common import SCHEMA_VERSION
from acbatch.publish.feedcheck import ERROR, WARNING
from acbatch.runner.decide import Action
from acbatch.runner.engine import CANCEL_EXIT_CODES, Outcome
from acbatch.runner.state import Phase
from tests.conftest import acbatch, text_episode, write_show

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas" / "output"
DOC = REPO / "docs" / "json-output.md"
AUDIO_TASK = "29a820e8-31ec-4502-859d-883be108d1e0"
SANDBOX_KEY = "good-key-1"

# (project, expected kind, arguments): run in this order, each in its project's folder.
# "show" is valid (ep-2 is a draft); "broken" has an invalid spec `bad` beside ep-1.
STEPS: list[tuple[str, str, tuple[str, ...]]] = [
    ("show", "validate", ("validate", "--sandbox", "--json")),
    ("show", "plan", ("plan", "--sandbox", "--json")),
    ("show", "run", ("run", "--sandbox", "--json")),
    ("show", "status", ("status", "--sandbox", "--json")),
    ("show", "costs", ("costs", "--sandbox", "--json")),
    ("show", "render", ("render", "--sandbox", "--json")),
    ("show", "run", ("retry", "ep-1", "--sandbox", "--json")),
    ("show", "run", ("redo", "ep-1", "--audio-only", "--sandbox", "--json")),
    ("show", "run", ("adopt", "ep-1", "--audio-task", AUDIO_TASK, "--sandbox", "--json")),
    ("show", "feed-check", ("feed", "check", "sandbox/output/feed.xml", "--sandbox", "--json")),
    ("show", "feed-check", ("feed", "check", "sandbox/output/feed.xml", "--json")),
    ("show", "feed-identity", ("feed", "identity", "--json")),
    ("show", "voices", ("voices", "--language", "ja", "--json")),
    ("show", "voices-import", ("voices", "import", "downloaded-voices.json", "--json")),
    ("show", "templates", ("templates", "list", "--json")),
    ("show", "doctor", ("doctor", "--json")),
    ("broken", "validate", ("validate", "--json")),
    ("broken", "plan", ("plan", "--sandbox", "--skip-invalid", "--json")),
    ("broken", "run", ("run", "--sandbox", "--skip-invalid", "--json")),
]


def schema(kind: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8")
    )
    return document


def schema_kinds() -> set[str]:
    return {path.name.removesuffix(".schema.json") for path in SCHEMAS.glob("*.schema.json")}


def command_path(args: tuple[str, ...]) -> tuple[str, ...]:
    """The words of `args` that name a command or subcommand: ('feed', 'check')."""
    path: list[str] = []
    command: click.Command = cli
    context = click.Context(cli)
    for word in args:
        if not isinstance(command, click.Group):
            break
        sub = command.get_command(context, word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return tuple(path)


def json_commands() -> set[tuple[str, ...]]:
    """Every command and subcommand that has a --json option."""
    found: set[tuple[str, ...]] = set()
    context = click.Context(cli)

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.add(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None, name
                walk(sub, (*path, name))

    for verb in COMMANDS:
        command = cli.get_command(context, verb)
        assert command is not None, verb
        walk(command, (verb,))
    return found


def acbatch_in(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return acbatch(*args, cwd=cwd, env=env)


def test_every_command_with_json_is_run_by_the_output_test() -> None:
    commands = json_commands()
    assert {("run",), ("feed", "check"), ("voices", "import"), ("templates", "list")} <= commands
    assert {command_path(args) for _, _, args in STEPS} == commands


def test_every_schema_is_a_valid_draft_2020_12_schema_of_one_envelope() -> None:
    assert schema_kinds() == {kind for _, kind, _ in STEPS}
    for kind in schema_kinds():
        document = schema(kind)
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        properties = document["properties"]
        assert properties["schema_version"] == {**properties["schema_version"], "const": 1}
        assert properties["schema_version"]["const"] == SCHEMA_VERSION, kind
        assert properties["kind"]["const"] == kind
        assert properties["ok"]["type"] == "boolean"
        assert {"schema_version", "kind", "ok"} <= set(document["required"]), kind
        assert document["additionalProperties"] is False, kind
        # One success key: no other boolean or exit-status key says whether it worked.
        assert not {"valid", "success", "passed"} & set(properties), kind


def values(enum_class: Any) -> set[Any]:
    return {member.value for member in enum_class}


def test_closed_sets_in_the_schemas_are_the_codes_own_enums() -> None:
    plan_item = schema("plan")["properties"]["episodes"]["items"]["properties"]
    assert set(plan_item["action"]["enum"]) == values(Action)
    assert set(plan_item["phase"]["enum"]) == values(Phase)

    run = schema("run")["properties"]
    run_item = run["episodes"]["items"]["properties"]
    assert set(run_item["outcome"]["enum"]) == values(Outcome)
    assert set(run_item["phase"]["enum"]) == values(Phase)
    assert set(run["outcomes"]["propertyNames"]["enum"]) == values(Outcome)
    assert set(run["cancelled"]["enum"]) == {*CANCEL_EXIT_CODES, None}
    assert set(run["exit_code"]["enum"]) == {0, 1, 4, *CANCEL_EXIT_CODES.values()}

    status_item = schema("status")["properties"]["episodes"]["items"]["properties"]
    assert set(status_item["phase"]["enum"]) == values(Phase) | {"draft"}

    for kind in ("validate", "feed-check"):
        problem = schema(kind)["properties"]["problems"]["items"]["properties"]
        assert set(problem["severity"]["enum"]) == {ERROR, WARNING}, kind


def test_every_schema_and_field_is_in_the_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind in sorted(schema_kinds()):
        assert f"schemas/output/{kind}.schema.json" in text, kind
        assert f'"kind": "{kind}"' in text or f"`{kind}`" in text, kind
        for field in field_paths(schema(kind)):
            assert f"`{field}`" in text, (kind, field)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/json-output.md" in readme


def field_paths(document: dict[str, Any], prefix: str = "") -> list[str]:
    """`episodes[].action`, `totals.credits.low`...: every named field of a schema."""
    paths = []
    for name, sub in document.get("properties", {}).items():
        paths.append(f"{prefix}{name}")
        paths += field_paths(sub, f"{prefix}{name}.")
        items = sub.get("items")
        if isinstance(items, dict):
            paths += field_paths(items, f"{prefix}{name}[].")
    return paths


@pytest.fixture
def projects(tmp_path: Path) -> dict[str, Path]:
    draft = text_episode(2)
    draft["publish"] = {**draft["publish"], "draft": True}  # type: ignore[dict-item]
    show = tmp_path / "show"
    write_show(show, {"ep-1": text_episode(1), "ep-2": draft, "ep-3": text_episode(3)})
    shutil.copy(show / "voices.json", show / "downloaded-voices.json")
    broken = tmp_path / "broken"
    write_show(broken, {"ep-1": text_episode(1), "bad": text_episode(9, nonsense=True)})
    return {"show": show, "broken": broken}


@pytest.mark.slow
def test_every_json_output_validates_against_its_published_schema(
    projects: dict[str, Path], sandbox_factory: Any
) -> None:
    server = sandbox_factory(keys=frozenset({SANDBOX_KEY}))
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIOCLEANER_")}
    env.update({"CI": "1", "AUDIOCLEANER_API_BASE": server.url})
    validators = {kind: Draft202012Validator(schema(kind)) for kind in schema_kinds()}
    outputs: dict[tuple[str, ...], dict[str, Any]] = {}
    for project, kind, args in STEPS:
        step_env = {**env, "AUDIOCLEANER_API_KEY": SANDBOX_KEY} if kind == "doctor" else env
        result = acbatch_in(projects[project], *args, env=step_env)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        try:
            output = json.loads(result.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"{args}: not JSON (exit {result.returncode}): {result.stderr[-2000:]}")
        errors = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validators[kind].iter_errors(output)
        ]
        assert not errors, (args, errors)
        assert output["kind"] == kind and output["schema_version"] == SCHEMA_VERSION
        assert output["ok"] is (result.returncode == 0), (args, result.returncode)
        outputs[(project, *args)] = output

    # The outputs say what happened, not only that they are well formed.
    assert outputs[("show", "run", "--sandbox", "--json")]["drafts_skipped"] == ["ep-2"]
    assert outputs[("show", "doctor", "--json")]["ok"] is True
    broken_validate = outputs[("broken", "validate", "--json")]
    assert broken_validate["ok"] is False and broken_validate["problems"]
    broken_run = outputs[("broken", "run", "--sandbox", "--skip-invalid", "--json")]
    assert broken_run["ok"] is False and broken_run["invalid_skipped"] == ["bad"]
    assert broken_run["exit_code"] == 1 and broken_run["outcomes"] == {"done": 1}
    live_check = outputs[("show", "feed", "check", "sandbox/output/feed.xml", "--json")]
    preview_check = outputs[
        ("show", "feed", "check", "sandbox/output/feed.xml", "--sandbox", "--json")
    ]
    assert preview_check["ok"] is True and live_check["errors"] >= preview_check["errors"]


def test_voices_raw_keeps_the_catalog_format(tmp_path: Path) -> None:
    from acbatch.voices import VoiceCatalog

    write_show(tmp_path, {"ep-1": text_episode(1)})
    env = {**os.environ, "CI": "1"}
    raw = acbatch_in(tmp_path, "voices", "--language", "ja", "--raw", env=env)
    assert raw.returncode == 0, raw.stderr
    document = json.loads(raw.stdout)
    assert document["code"] == 100000 and document["data"]["total"] == 2
    assert {v.name for v in VoiceCatalog.from_document(document)} == {"yui", "haruto"}
    both = acbatch_in(tmp_path, "voices", "--raw", "--json", env=env)
    assert both.returncode == 2 and "--raw" in both.stderr


def test_plan_show_source_is_text_only(tmp_path: Path) -> None:
    write_show(tmp_path, {"ep-1": text_episode(1)})
    env = {**os.environ, "CI": "1"}
    both = acbatch_in(tmp_path, "plan", "--show-source", "ep-1", "--json", env=env)
    assert both.returncode == 2 and both.stdout == "" and "no --json" in both.stderr
    text = acbatch_in(tmp_path, "plan", "--show-source", "ep-1", env=env)
    assert text.returncode == 0 and "tide pools" in text.stdout
