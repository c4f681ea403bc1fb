"""One show in many languages: the language matrix (`languages:`), its ids and selectors, and
its per-language publishing. Runs go through the real command line, against the offline
sandbox (`acbatch run --sandbox`, counted at the sandbox's own task store) or the strict API
double (tests/double.py) over real HTTP; feeds are read by feedparser and podcastparser, and
pages by a real HTML parser."""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import feedparser
import podcastparser
import pytest
import yaml

from acbatch.sandbox.server import SandboxServer, SandboxSettings
from tests.conftest import acbatch as run_acbatch
from tests.conftest import account_catalog, text_episode, write_show
from tests.double import StrictDouble

KEY = "double-key-4242"
PODCAST_NS = "{https://podcastindex.org/namespace/1.0}"
MATRIX = ["en", "ja", "es"]


def acbatch(root: Path, *args: str, double: StrictDouble | None = None) -> Any:
    env = {"AUDIOCLEANER_API_KEY": KEY, "AUDIOCLEANER_API_BASE": double.url} if double else None
    return run_acbatch("-C", str(root), *args, env=env)


def matrix_show(
    root: Path,
    specs: dict[str, dict[str, object]],
    languages: list[str],
    *,
    show: dict[str, object] | None = None,
) -> Path:
    defaults = {"style": "interview", "duration": 1, "speakers": ["ava", "leo"]}
    api = {"jobs": 4, "polling": {"initial": 0.05, "max_interval": 0.2}}
    config = write_show(root, specs, defaults={**defaults, "languages": languages}, api=api)
    if show:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        data["show"].update(show)
        config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


def set_languages(config: Path, languages: list[str]) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["defaults"]["languages"] = languages
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def creates_by_language(double: StrictDouble) -> Counter[tuple[str, str]]:
    """(step, language) -> creates the double accepted."""
    made: Counter[tuple[str, str]] = Counter()
    for step, creates in double.creates.items():
        for _at, global_id in creates:
            task = double.tasks[global_id]
            if task.step == "audio":
                task = double.tasks[task.body["global_id"]]
            made[(step, str(task.body["language"]))] += 1
    return made


class _Page(HTMLParser):
    """What the tests read of an HTML page: <html lang>, and the hreflang alternates."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.lang: str | None = None
        self.alternates: dict[str, str] = {}
        self.feeds: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "link" and values.get("rel") == "alternate" and values.get("hreflang"):
            hreflang, href = str(values["hreflang"]), str(values.get("href"))
            if values.get("type") == "application/rss+xml":
                self.feeds[hreflang] = href
            else:
                self.alternates[hreflang] = href


def valid_output(kind: str, text: str) -> dict[str, Any]:
    """A --json output, checked against its published schema (schemas/output/)."""
    from jsonschema import Draft202012Validator

    schema_path = Path(__file__).parent.parent / "schemas" / "output" / f"{kind}.schema.json"
    document: dict[str, Any] = json.loads(text)
    Draft202012Validator(json.loads(schema_path.read_text(encoding="utf-8"))).validate(document)
    return document


def page(path: Path) -> _Page:
    return _Page(path.read_text(encoding="utf-8"))


@pytest.fixture
def double() -> Any:
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as server:
        yield server


def test_three_episodes_in_three_languages_through_the_sandbox(tmp_path: Path) -> None:
    specs = {f"ep-{i}": text_episode(i) for i in range(1, 4)}
    japanese = {"title": "小さな不思議", "description": "身近な科学の話。"}
    config = matrix_show(tmp_path, specs, ["en", "Japanese", "español"], show={})
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["show"]["languages"] = {"日本語": japanese, "es": {"title": "Pequeñas maravillas"}}
    data["defaults"]["languages"] = ["en", "Japanese", "Español"]
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")

    result = acbatch(tmp_path, "run", "--sandbox", "--json")
    assert result.returncode == 0, result.stderr
    summary = valid_output("run", result.stdout)
    assert sorted(summary["feeds"]) == sorted(MATRIX)
    assert all(len(feed["published"]) == 3 for feed in summary["feeds"].values())

    # The sandbox's own task store (kept across processes) is the witness of what was created.
    store = tmp_path / "sandbox" / "server"
    server = SandboxServer(SandboxSettings(state_dir=store)).start()
    try:
        assert server.stats()["tasks_created"] == {"script": 9, "audio": 9}
        scripts = [t for t in server.backend.tasks() if t.kind == "script"]
        assert Counter(t.request["language"] for t in scripts) == {"en": 3, "ja": 3, "es": 3}
    finally:
        server.stop()

    output = tmp_path / "sandbox" / "output"
    assert not (output / "feed.xml").exists()
    guids = set()
    for code in MATRIX:
        feed_bytes = (output / code / "feed.xml").read_bytes()
        parsed = feedparser.parse(feed_bytes)
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.feed.language == code
        assert len(parsed.entries) == 3
        assert {e.link.rsplit("/", 2)[-2] for e in parsed.entries} == {
            f"ep-{i}.{code}" for i in range(1, 4)
        }
        assert all(f"/{code}/episodes/" in e.enclosures[0].href for e in parsed.entries)
        url = f"https://podcast.example.com/{code}/feed.xml"
        gpodder = podcastparser.parse(url, io.BytesIO(feed_bytes))
        assert gpodder["language"] == code
        assert len(gpodder["episodes"]) == 3
        channel = ElementTree.fromstring(feed_bytes).find("channel")
        assert channel is not None
        guids.add(channel.findtext(f"{PODCAST_NS}guid"))
        assert (tmp_path / "sandbox" / "state" / f".feed-identity.{code}.json").is_file()
    assert len(guids) == 3  # each language is a show of its own for directories
    ja = feedparser.parse((output / "ja" / "feed.xml").read_bytes())
    assert ja.feed.title == "小さな不思議" and ja.feed.subtitle == "身近な科学の話。"
    assert feedparser.parse((output / "es" / "feed.xml").read_bytes()).feed.title == (
        "Pequeñas maravillas"
    )

    chooser = page(output / "index.html")
    assert chooser.lang == "en"
    assert chooser.alternates == {"en": "en/", "ja": "ja/", "es": "es/", "x-default": "./"}
    assert chooser.feeds == {code: f"{code}/feed.xml" for code in MATRIX}
    for code in MATRIX:
        index = page(output / code / "index.html")
        assert index.lang == code
        assert index.alternates == {
            **{other: f"../{other}/" for other in MATRIX},
            "x-default": "../index.html",
        }
        notes_path = output / code / "episodes" / f"ep-1.{code}" / "notes.html"
        notes = page(notes_path)
        assert notes.lang == code
        assert set(notes.alternates) == set(MATRIX)
        for other, href in notes.alternates.items():
            target = (notes_path.parent / href).resolve()
            assert target == (output / other / "episodes" / f"ep-1.{other}" / "notes.html")
            assert page(target).lang == other

    status = acbatch(tmp_path, "status", "--sandbox", "--json")
    rows = {row["id"]: row["phase"] for row in json.loads(status.stdout)["episodes"]}
    assert rows == {f"ep-{i}.{code}": "rendered" for i in range(1, 4) for code in MATRIX}
    costs = json.loads(acbatch(tmp_path, "costs", "--sandbox", "--json").stdout)
    assert set(costs["by_episode"]) == set(rows)
    rendered = acbatch(tmp_path, "render", "--sandbox", "--json")
    assert rendered.returncode == 0, rendered.stderr
    feeds = valid_output("render", rendered.stdout)["feeds"]
    assert {code: len(feed["published"]) for code, feed in feeds.items()} == dict.fromkeys(
        MATRIX, 3
    )


def test_adding_a_language_plans_and_runs_only_that_language(
    tmp_path: Path, double: StrictDouble
) -> None:
    config = matrix_show(tmp_path, {f"ep-{i}": text_episode(i) for i in (1, 2)}, ["en", "ja"])
    first = acbatch(tmp_path, "run", double=double)
    assert first.returncode == 0, first.stderr
    assert creates_by_language(double) == {
        ("script", "en"): 2,
        ("script", "ja"): 2,
        ("audio", "en"): 2,
        ("audio", "ja"): 2,
    }
    # The Japanese episodes speak with the catalog's Japanese voices, not the English defaults.
    ja_audio = [
        t.body for t in double.tasks.values() if t.step == "script" and t.body["language"] == "ja"
    ]
    assert {tuple(body["speakers"]) for body in ja_audio} == {(16110, 16111)}

    set_languages(config, ["en", "ja", "es"])
    planned = acbatch(tmp_path, "plan", "--json", double=double)
    assert planned.returncode == 0, planned.stderr
    actions = {e["id"]: e["action"] for e in json.loads(planned.stdout)["episodes"]}
    assert actions == {
        "ep-1.en": "done",
        "ep-1.ja": "done",
        "ep-1.es": "create_script",
        "ep-2.en": "done",
        "ep-2.ja": "done",
        "ep-2.es": "create_script",
    }
    before = creates_by_language(double)
    second = acbatch(tmp_path, "run", double=double)
    assert second.returncode == 0, second.stderr
    assert creates_by_language(double) - before == {("script", "es"): 2, ("audio", "es"): 2}
    for code in ("en", "ja", "es"):
        assert f"output/{code}/feed.xml (2 episodes)" in second.stderr.replace(os.sep, "/")
    # The episodes made before link the new language's version from their notes pages too.
    notes = page(tmp_path / "output" / "en" / "episodes" / "ep-1.en" / "notes.html")
    assert notes.alternates["es"] == "../../../es/episodes/ep-1.es/notes.html"

    # Each language is its own show for directories: its own podcast:guid, recorded apart.
    shown = acbatch(tmp_path, "feed", "identity", "--json")
    assert shown.returncode == 0, shown.stderr
    identities = valid_output("feed-identity", shown.stdout)["languages"]
    assert list(identities) == ["en", "ja", "es"]
    for code, identity in identities.items():
        assert identity["recorded"] is True
        assert (tmp_path / "state" / f".feed-identity.{code}.json").is_file()
        feed = ElementTree.parse(tmp_path / "output" / code / "feed.xml").getroot()
        assert feed.findtext(f"channel/{PODCAST_NS}guid") == identity["podcast_guid"]
    assert len({identity["podcast_guid"] for identity in identities.values()}) == 3


def test_a_selector_names_every_language_and_an_expanded_id_one(
    tmp_path: Path, double: StrictDouble
) -> None:
    specs = {"tide-pools": text_episode(1), "city-bikes": text_episode(2)}
    matrix_show(tmp_path, specs, ["en", "ja"])
    planned = acbatch(tmp_path, "plan", "--json", "tide-pools", double=double)
    assert [e["id"] for e in json.loads(planned.stdout)["episodes"]] == [
        "tide-pools.en",
        "tide-pools.ja",
    ]
    run_all = acbatch(tmp_path, "run", "tide-pools", "--no-render", double=double)
    assert run_all.returncode == 0, run_all.stderr
    assert creates_by_language(double) == {
        ("script", "en"): 1,
        ("script", "ja"): 1,
        ("audio", "en"): 1,
        ("audio", "ja"): 1,
    }
    assert set(double.creates_by_source()) == {str(specs["tide-pools"]["source"]["text"])}  # type: ignore[index]

    before = creates_by_language(double)
    run_one = acbatch(tmp_path, "run", "city-bikes.ja", "--no-render", double=double)
    assert run_one.returncode == 0, run_one.stderr
    assert creates_by_language(double) - before == {("script", "ja"): 1, ("audio", "ja"): 1}

    # The episode controls take the same selectors: all languages, or one.
    before = creates_by_language(double)
    redo = acbatch(tmp_path, "redo", "tide-pools", "--audio-only", "--no-render", double=double)
    assert redo.returncode == 0, redo.stderr
    assert creates_by_language(double) - before == {("audio", "en"): 1, ("audio", "ja"): 1}

    unknown = acbatch(tmp_path, "run", "tide-pools.fr", double=double)
    assert unknown.returncode == 2
    assert "no episode with id 'tide-pools.fr'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_shards_split_the_expanded_episodes_without_overlap(
    tmp_path: Path, double: StrictDouble
) -> None:
    matrix_show(tmp_path, {f"ep-{i}": text_episode(i) for i in (1, 2, 3)}, ["en", "ja"])
    for shard in ("1/2", "2/2"):
        result = acbatch(tmp_path, "run", "--shard", shard, double=double)
        assert result.returncode == 0, result.stderr
    assert double.created("script") == 6 and double.created("audio") == 6
    assert sorted(p.name for p in (tmp_path / "state").glob("ep-*.json")) == sorted(
        f"ep-{i}.{code}.json" for i in (1, 2, 3) for code in ("en", "ja")
    )


def test_a_single_language_keeps_plain_ids_and_todays_paths(
    tmp_path: Path, double: StrictDouble
) -> None:
    matrix_show(tmp_path, {"ep-1": text_episode(1)}, ["ja"])
    result = acbatch(tmp_path, "run", double=double)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "ep-1.json").is_file()
    assert (tmp_path / "output" / "episodes" / "ep-1" / "ep-1.mp3").is_file()
    feed = feedparser.parse((tmp_path / "output" / "feed.xml").read_bytes())
    assert len(feed.entries) == 1
    assert creates_by_language(double) == {("script", "ja"): 1, ("audio", "ja"): 1}


def validate_error(root: Path) -> str:
    result = acbatch(root, "validate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_bad_per_language_block_names_file_line_and_field(tmp_path: Path) -> None:
    spec = text_episode(1, per_language={"ja": {"titel": "潮だまり"}})
    matrix_show(tmp_path, {"tide-pools": spec}, MATRIX)
    text = (tmp_path / "specs" / "tide-pools.yaml").read_text(encoding="utf-8").splitlines()
    line = next(n for n, row in enumerate(text, 1) if "titel" in row)
    errors = validate_error(tmp_path)
    assert f"specs/tide-pools.yaml:{line}:" in errors
    assert "per_language.ja.titel" in errors and "did you mean 'title'" in errors
    assert "1 problem in 1 file" in errors  # one clear error, not one per language

    elsewhere = text_episode(1, per_language={"fr": {"title": "Les flaques"}})
    (tmp_path / "specs" / "tide-pools.yaml").write_text(yaml.safe_dump(elsewhere), "utf-8")
    errors = validate_error(tmp_path)
    assert "per_language.fr: 'fr' is not one of this episode's languages (en, ja, es)" in errors


def test_a_language_without_a_fitting_voice_is_an_error_naming_it(tmp_path: Path) -> None:
    config = matrix_show(tmp_path, {"tide-pools": text_episode(1)}, ["en", "ko"])
    catalog = account_catalog()
    records = catalog["data"]["records"]  # type: ignore[index]
    catalog["data"]["records"] = [r for r in records if r["language"] != "ko"]  # type: ignore[index]
    (tmp_path / "voices.json").write_text(json.dumps(catalog), "utf-8")
    lines = config.read_text(encoding="utf-8").splitlines()
    line = next(n for n, row in enumerate(lines, 1) if row.strip() == "- ko")
    errors = validate_error(tmp_path)
    assert f"acbatch.yaml:{line}:" in errors
    assert "defaults.languages[1]: no voice in voices.json speaks Korean (ko)" in errors
    assert errors.count("Korean") == 1  # one clear error

    # Korean voices given for that language alone fix it.
    spec = text_episode(1, per_language={"ko": {"speakers": [16098, 16093]}})
    (tmp_path / "specs" / "tide-pools.yaml").write_text(yaml.safe_dump(spec), "utf-8")
    assert acbatch(tmp_path, "validate").returncode == 0


def test_show_languages_must_be_languages(tmp_path: Path) -> None:
    matrix_show(
        tmp_path,
        {"tide-pools": text_episode(1)},
        MATRIX,
        show={"languages": {"Klingon": {"title": "tlhIngan"}}},
    )
    errors = validate_error(tmp_path)
    assert "acbatch.yaml:" in errors and "show.languages.Klingon:" in errors

    config = tmp_path / "acbatch.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["show"]["languages"] = {"Japanese": {"image": "cover-ja.png"}}
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    errors = validate_error(tmp_path)
    assert "show.languages.Japanese.image: 'cover-ja.png' does not exist" in errors


def test_review_and_approval_take_the_same_selectors(tmp_path: Path, double: StrictDouble) -> None:
    matrix_show(tmp_path, {"tide-pools": text_episode(1, review="required")}, ["en", "ja"])
    first = acbatch(tmp_path, "run", double=double)
    assert first.returncode == 0, first.stderr
    assert double.created("script") == 2 and double.created("audio") == 0
    for code in ("en", "ja"):
        review = yaml.safe_load((tmp_path / "specs" / f"tide-pools.{code}.script.yaml").read_text())
        assert review["episode"] == f"tide-pools.{code}" and review["approved"] is False

    approved = acbatch(tmp_path, "approve", "tide-pools")
    assert approved.returncode == 0, approved.stderr
    second = acbatch(tmp_path, "run", double=double)
    assert second.returncode == 0, second.stderr
    assert creates_by_language(double) == {
        ("script", "en"): 1,
        ("script", "ja"): 1,
        ("audio", "en"): 1,
        ("audio", "ja"): 1,
    }

    # One task id cannot be adopted by every language of an episode.
    task = "29a820e8-31ec-4502-859d-883be108d1e0"
    adopt = acbatch(tmp_path, "adopt", "tide-pools", "--audio-task", task, double=double)
    assert adopt.returncode == 2
    assert "name one of tide-pools.en, tide-pools.ja" in adopt.stderr
