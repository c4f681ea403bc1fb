"""The sanitiser, replace rules on RE2, sandboxed templates and a full output folder."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
import yaml

from acbatch import codes
from acbatch.api import errors
from acbatch.api.client import PodcastClient
from acbatch.project.loader import load_project
from acbatch.publish.errors import PublishError, TemplateError
from acbatch.publish.files import write_atomic
from acbatch.publish.templating import Templates
from acbatch.redact import clean_data, redact, register_secret, strip_secret_query
from acbatch.runner.backtracking import catastrophic_backtracking
from acbatch.runner.bodies import apply_replacements
from tests.conftest import text_episode, write_show
from tests.hostile import HostileServer, Reply

KEY = "sk-hard/en+ing=5150"

# -- the sanitiser --------------------------------------------------------------------------------


def test_every_spelling_of_the_key_is_masked() -> None:
    from urllib.parse import quote, quote_plus

    register_secret(KEY)
    for form in (KEY, quote(KEY, safe=""), quote(KEY), quote_plus(KEY), repr(KEY)[1:-1]):
        assert "***" in redact(f"echo {form} echo") and form not in redact(f"echo {form}")
    lower = quote(KEY, safe="").replace("%2F", "%2f")
    assert lower not in redact(lower)


def test_printed_text_loses_terminal_controls_bidi_overrides_and_surrogates() -> None:
    text = "ok \x1b]0;pwned\x07 \x1b[2J \u202eevil\u202c \ud800 \ufffe \x9b done\r\n"
    cleaned = redact(text)
    for bad in ("\x1b", "\x07", "\u202e", "\u202c", "\ud800", "\ufffe", "\x9b", "\r"):
        assert bad not in cleaned
    assert cleaned.startswith("ok ]0;pwned") and cleaned.endswith("done\n")
    cleaned.encode("utf-8")  # lone surrogates would make this raise


def test_stored_data_is_cleaned_keys_and_values_and_urls_lose_the_key() -> None:
    register_secret(KEY)
    from urllib.parse import quote

    data = {
        f"k{KEY}": [f"v {KEY}", {"t": "a\ud800b"}],
        "file_url": f"https://cdn.example/a.mp3?sig=1&api_key={quote(KEY, safe='')}&x=2",
    }
    cleaned = clean_data(data)
    assert KEY not in repr(cleaned) and "\ud800" not in repr(cleaned)
    assert cleaned["file_url"] == "https://cdn.example/a.mp3?sig=1&x=2"
    assert strip_secret_query("https://a.example/x.mp3?sig=1") == "https://a.example/x.mp3?sig=1"


def test_the_client_hands_back_only_clean_task_data() -> None:
    data = {
        "status": "success",
        "global_id": "gid",
        "title": f"T {KEY} \x1b[31m red \u202e",
        "processed_content": "lone \ud800 surrogate",
        "podcast_script": [{"role": "A", "text": f"hi {KEY}"}],
        "hightlights": [],
    }
    with HostileServer(lambda seen: Reply(body={"code": codes.SUCCESS, "data": data})) as server:
        task = PodcastClient(KEY, server.url).get_script("gid")
    text = repr(task.data)
    assert KEY not in text and "\x1b" not in text and "\u202e" not in text
    assert "\ud800" not in text and "\ufffd" in task.data["processed_content"]


@pytest.mark.parametrize("bad_key", ["sk-line\nbreak", "sk-\u043a\u043b\u044e\u0447", "sk-\x00nul"])
def test_a_key_that_cannot_be_a_header_never_leaves(bad_key: str) -> None:
    with HostileServer(lambda seen: Reply(body={"code": 0})) as server:
        client = PodcastClient(bad_key, server.url)
        with pytest.raises(errors.UnusableApiKey) as caught:
            client.create_script({"text": "x"})
    assert server.seen == []
    assert caught.value.processed is False and not caught.value.retryable
    assert bad_key not in str(caught.value) and repr(bad_key) not in str(caught.value)


# -- replace rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "expected"),
    [
        ("Octopus minds", {"ignore_case": True}, "Octopodes minds"),
        ("the octopus", {"ignore_case": True}, "the octopodes"),
        ("OCTOPUS ALERT", {"ignore_case": True}, "OCTOPODES ALERT"),
        ("Octopus minds", {"ignore_case": True, "keep_case": False}, "octopodes minds"),
        ("Octopus minds", {}, "Octopus minds"),
    ],
)
def test_case_preserving_replacements(text: str, rule: dict[str, object], expected: str) -> None:
    full = {"find": "octopus", "replace": "octopodes", **rule}
    assert apply_replacements(text, [full]) == expected


def test_regex_replacements_run_in_linear_time() -> None:
    rules = [
        {"find": r"(c|h)at", "replace": r"\1ow", "regex": True},
        {"find": "(a+)+$", "replace": "x", "regex": True},
    ]
    assert apply_replacements("cat hat", rules[:1]) == "cow how"
    started = time.monotonic()
    apply_replacements("a" * 200_000 + "b", rules[1:])
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "catastrophic"),
    [("(a+)+$", True), (r"(\w+\s?)+$", True), ("(x+x+)+y", True), ("(a|b)+", False)],
)
def test_catastrophic_patterns_are_recognised(pattern: str, catastrophic: bool) -> None:
    assert (catastrophic_backtracking(pattern) is not None) is catastrophic


@pytest.mark.parametrize(
    ("find", "message"),
    [("(a+)+$", "backtracks catastrophically"), (r"(a)\1", "cannot be used")],
)
def test_validate_refuses_bad_patterns_with_file_and_line(
    tmp_path: Path, find: str, message: str
) -> None:
    spec = text_episode(1, overrides={"replace": [{"find": find, "replace": "b", "regex": True}]})
    config = write_show(tmp_path, {"ep-1": spec})
    problems = load_project(config).errors
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file.name == "ep-1.yaml" and problem.line > 1
    assert problem.field == "overrides.replace[0].find" and message in problem.message
    spec_text = (tmp_path / "specs" / "ep-1.yaml").read_text()
    assert yaml.safe_load(spec_text)["overrides"]["replace"][0]["find"] == find


# -- templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ cycler.__init__.__globals__.os.system('true') }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% set x = [] %}{{ x.append(1) }}",
    ],
)
def test_user_templates_render_in_a_sandbox(tmp_path: Path, source: str) -> None:
    (tmp_path / "evil.html.j2").write_text(source)
    with pytest.raises(TemplateError):
        Templates(tmp_path).render("evil.html.j2")


def test_a_template_linked_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("SECRET-TOKEN")
    (folder / "notes.md.j2").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(TemplateError, match="symbolic link"):
        Templates(folder).render("notes.md.j2")


# -- a full output folder ---------------------------------------------------------------------


def test_a_full_output_folder_is_one_clear_error(tmp_path: Path) -> None:
    from tests.test_hostile_runs import tiny_filesystem

    output = tmp_path / "output"
    with tiny_filesystem(output, "64k"):
        write_atomic(output / "feed.xml", b"old feed")
        with pytest.raises(PublishError) as caught:
            write_atomic(output / "feed.xml", b"x" * (1 << 20))
        assert (output / "feed.xml").read_bytes() == b"old feed"
        assert not list(output.glob(".*.tmp"))
        with contextlib.suppress(OSError):
            (output / "feed.xml").unlink()
    message = str(caught.value)
    assert str(output) in message and "no space left" in message and "\n" not in message


def test_a_download_into_a_full_disk_is_one_clear_error(tmp_path: Path) -> None:
    from acbatch.runner.download import DownloadError, download_audio
    from tests.double import tone_mp3
    from tests.test_hostile_runs import tiny_filesystem

    mp3 = tone_mp3(40.0)
    assert len(mp3) > 128 * 1024
    output = tmp_path / "output"
    reply = Reply(body=mp3, content_type="audio/mpeg")
    with tiny_filesystem(output, "64k"), HostileServer(lambda seen: reply) as server:
        PodcastClient(KEY, server.url)  # the API is on loopback, like the sandbox
        with pytest.raises(DownloadError) as caught:
            download_audio(
                f"{server.url}/a.mp3",
                output / "a.mp3",
                max_bytes=10 << 20,
                timeout=(5.0, 5.0),
                deadline_seconds=10.0,
            )
        assert not list(output.iterdir())
    assert "no space left" in str(caught.value) and str(output) in str(caught.value)
    assert not caught.value.retryable
