"""A series that sounds like one show: the show's pronunciation dictionary and the spoken intro
and outro, driven through the real command line against the strict API double
(tests/double.py), whose received create bodies and counters are the witness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acbatch import codes
from acbatch.publish.templating import Templates
from tests.conftest import write_show
from tests.double import StrictDouble
from tests.test_plan_equals_run import acbatch_with as acbatch
from tests.test_plan_equals_run import creates_since, plan

SOURCES = {
    "ep-1": "Nudibranch colours warn predators away from the reef at low tide every day.",
    "ep-2": "Octopus arms can taste what they touch on the sand and rocks below.",
    "ep-3": "Nudibranch and octopus share the reef and hunt at night in the shallows.",
}


@pytest.fixture
def double() -> Any:
    with StrictDouble(script_latency=0.05, audio_latency=0.05) as server:
        yield server


def series_show(root: Path, **show: Any) -> Path:
    episodes = {
        episode: {
            "source": {"text": text},
            "publish": {"date": "2026-01-01", "season": 1, "episode": number},
        }
        for number, (episode, text) in enumerate(SOURCES.items(), start=1)
    }
    api = {"jobs": 4, "polling": {"initial": 0.05, "max_interval": 0.2}}
    config = write_show(root, episodes, api=api)
    set_show(root, **show)
    return config


def set_show(root: Path, **fields: Any) -> None:
    path = root / "acbatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["show"].update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def edit_spec(root: Path, episode: str, **changes: Any) -> None:
    path = root / "specs" / f"{episode}.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))


def run_ok(root: Path, double: StrictDouble) -> None:
    result = acbatch(root, double, "run")
    assert result.returncode == 0, result.stdout + result.stderr


def audio_bodies(double: StrictDouble) -> dict[str, dict[str, Any]]:
    """The last audio create body the server received, per episode (by its source text)."""
    tasks = sorted(
        (task for task in double.tasks.values() if task.step == "audio"),
        key=lambda task: task.created,
    )
    by_text = {text: episode for episode, text in SOURCES.items()}
    return {by_text[double.source_of(task.global_id)]: task.body for task in tasks}


def spoken_text(body: dict[str, Any]) -> str:
    return "\n".join(turn["text"] for turn in body["podcast_script"])


DICTIONARY = {
    "en": [
        {"find": "Nudibranch", "replace": "NOO-dih-brank"},
        {"find": "reef", "replace": "REEF"},
    ],
    "ja": [{"find": "ウミウシ", "replace": "うみうし"}],
}


def dictionary_show(root: Path) -> None:
    """The series with the show's DICTIONARY, and ep-1 with its own rule for the same word."""
    series_show(root, pronunciations=DICTIONARY)
    edit_spec(
        root, "ep-1", overrides={"replace": [{"find": "Nudibranch", "replace": "nudi-BRANCH"}]}
    )


def test_the_episode_rule_wins_over_the_show_dictionary_on_the_same_find(
    tmp_path: Path, double: StrictDouble
) -> None:
    dictionary_show(tmp_path)
    run_ok(tmp_path, double)
    bodies = audio_bodies(double)
    first, third = spoken_text(bodies["ep-1"]), spoken_text(bodies["ep-3"])
    assert "nudi-BRANCH" in first and "NOO-dih-brank" not in first and "Nudibranch" not in first
    assert "REEF" in first  # the show's other rules still apply to the episode
    assert "NOO-dih-brank" in third and "REEF" in third and "nudi-BRANCH" not in third
    assert "Octopus" in spoken_text(bodies["ep-2"])


def test_a_dictionary_change_redoes_the_audio_of_exactly_the_episodes_that_say_it(
    tmp_path: Path, double: StrictDouble
) -> None:
    dictionary_show(tmp_path)
    run_ok(tmp_path, double)
    assert {e["action"] for e in plan(tmp_path, double).values()} == {"done"}

    changed = json.loads(json.dumps(DICTIONARY))
    changed["en"][0]["replace"] = "NOO-dee-brank"  # ep-1 has its own rule; ep-2 never says it
    changed["en"].append({"find": "octopus", "replace": "OCK-toe-puss", "ignore_case": True})
    changed["ja"][0]["replace"] = "ウミウシさん"  # no Japanese episode: nothing to redo
    set_show(tmp_path, pronunciations=changed)
    planned = plan(tmp_path, double)
    assert {k: v["action"] for k, v in planned.items()} == {
        "ep-1": "done",
        "ep-2": "create_audio",
        "ep-3": "create_audio",
    }
    low, high = codes.credit_range(1)
    for episode in ("ep-2", "ep-3"):
        assert "show.pronunciations" in planned[episode]["reason"]
        assert planned[episode]["credits"] == {"low": low, "high": high}
        assert planned[episode]["billed_step"] == "audio"
    assert planned["ep-1"]["credits"] == {"low": 0, "high": 0}

    before = double.creates_by_source()
    run_ok(tmp_path, double)
    assert creates_since(double, before) == {
        SOURCES["ep-2"]: ["audio"],
        SOURCES["ep-3"]: ["audio"],
    }
    bodies = audio_bodies(double)
    assert "OCK-toe-puss" in spoken_text(bodies["ep-2"])
    assert "NOO-dee-brank" in spoken_text(bodies["ep-3"])
    assert "OCK-toe-puss" in spoken_text(bodies["ep-3"])
    assert {e["action"] for e in plan(tmp_path, double).values()} == {"done"}


def test_a_dictionary_rule_that_cannot_run_is_an_error_naming_its_line(tmp_path: Path) -> None:
    series_show(
        tmp_path, pronunciations={"en": [{"find": "(a)\\1", "replace": "x", "regex": True}]}
    )
    result = acbatch(tmp_path, StrictDouble(), "validate")
    assert result.returncode != 0
    assert "acbatch.yaml:" in result.stdout + result.stderr
    assert "show.pronunciations.en[0].find" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_host_missing_from_the_voice_catalog_is_an_error_with_a_suggestion(
    tmp_path: Path,
) -> None:
    series_show(tmp_path, hosts=["ava", "leoo"])
    result = acbatch(tmp_path, StrictDouble(), "validate")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "acbatch.yaml:" in output
    assert "show.hosts[1]: no voice named 'leoo'" in output
    assert "did you mean 'leo'?" in output


def test_spoken_intro_and_outro_open_and_close_the_audio_in_the_hosts_voice(
    tmp_path: Path, double: StrictDouble
) -> None:
    series_show(tmp_path)
    run_ok(tmp_path, double)
    plain = audio_bodies(double)

    set_show(tmp_path, spoken={"intro": True, "outro": True})
    edit_spec(tmp_path, "ep-2", spoken={"outro": False})
    planned = plan(tmp_path, double)
    assert {k: v["action"] for k, v in planned.items()} == dict.fromkeys(SOURCES, "create_audio")
    assert "spoken.intro, spoken.outro changed" in planned["ep-1"]["reason"]
    assert "spoken.intro changed" in planned["ep-2"]["reason"]
    assert "spoken.outro" not in planned["ep-2"]["reason"]

    before = double.creates_by_source()
    run_ok(tmp_path, double)
    assert creates_since(double, before) == {text: ["audio"] for text in SOURCES.values()}
    bodies = audio_bodies(double)
    for number, episode in enumerate(SOURCES, start=1):
        body, old = bodies[episode], plain[episode]
        turns, host = body["podcast_script"], old["podcast_script"][0]
        title = old["title"]
        assert turns[0]["text"] == f"Welcome to Test Show. Season 1, episode {number}: {title}."
        assert {k: turns[0][k] for k in ("role", "name", "voice_id")} == {
            k: host[k] for k in ("role", "name", "voice_id")
        }
        assert turns[1 : 1 + len(old["podcast_script"])] == old["podcast_script"]
        # The highlights still point at the same turns.
        assert [h["script_start_index"] for h in body["hightlights"]] == [
            h["script_start_index"] + 1 for h in old["hightlights"]
        ]
        if episode == "ep-2":
            assert len(turns) == len(old["podcast_script"]) + 1
        else:
            assert turns[-1]["text"] == f"That was {title}, on Test Show. Thanks for listening."
            assert turns[-1]["role"] == host["role"]

    # A value the templates do not say (the date) redoes nothing; one they say does.
    edit_spec(tmp_path, "ep-1", publish={"date": "2026-02-01", "season": 1, "episode": 1})
    assert {e["action"] for e in plan(tmp_path, double).values()} <= {"done", "render"}
    edit_spec(tmp_path, "ep-1", publish={"date": "2026-02-01", "season": 1, "episode": 9})
    planned = plan(tmp_path, double)
    assert planned["ep-1"]["action"] == "create_audio"
    assert "spoken.intro changed" in planned["ep-1"]["reason"]
    assert "spoken.outro" not in planned["ep-1"]["reason"]  # the outro does not say the number
    edit_spec(tmp_path, "ep-1", publish={"date": "2026-01-01", "season": 1, "episode": 1})

    # An unedited copy of the built-in template says the same: nothing is redone.
    copied = acbatch(tmp_path, double, "templates", "copy", "intro.txt")
    assert copied.returncode == 0, copied.stderr
    assert {e["action"] for e in plan(tmp_path, double).values()} == {"done"}

    # The show's own template replaces the built-in one: the intros are redone, not the outros.
    (tmp_path / "templates" / "intro.txt.j2").write_text(
        "This is {{ show }}, number {{ number }}. {{ title }}!\n", encoding="utf-8"
    )
    planned = plan(tmp_path, double)
    assert {k: v["action"] for k, v in planned.items()} == dict.fromkeys(SOURCES, "create_audio")
    assert all("spoken.intro changed" in p["reason"] for p in planned.values())
    assert not any("spoken.outro" in p["reason"] for p in planned.values())
    before = double.creates_by_source()
    run_ok(tmp_path, double)
    assert creates_since(double, before) == {text: ["audio"] for text in SOURCES.values()}
    title = plain["ep-3"]["title"]
    assert audio_bodies(double)["ep-3"]["podcast_script"][0]["text"] == (
        f"This is Test Show, number 3. {title}!"
    )
    assert {e["action"] for e in plan(tmp_path, double).values()} == {"done"}


def test_the_spoken_speaker_can_be_chosen_and_the_dictionary_applies_to_spoken_turns(
    tmp_path: Path, double: StrictDouble
) -> None:
    series_show(
        tmp_path,
        title="Reef Radio",
        spoken={"intro": True, "speaker": "B"},
        pronunciations={"en": [{"find": "Reef Radio", "replace": "Reef Ray-dee-oh"}]},
    )
    run_ok(tmp_path, double)
    body = audio_bodies(double)["ep-2"]  # ep-2 never says the show's name itself
    intro = body["podcast_script"][0]
    assert intro["role"] == "B"
    assert intro["text"].startswith("Welcome to Reef Ray-dee-oh.")


def test_a_template_that_reaches_for_python_internals_is_refused_before_any_create(
    tmp_path: Path, double: StrictDouble
) -> None:
    series_show(tmp_path, spoken={"outro": True})
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "outro.txt.j2").write_text(
        "{{ show.__class__.__mro__ }}\n", encoding="utf-8"
    )
    for command in ("validate", "run"):
        result = acbatch(tmp_path, double, command)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "acbatch.yaml:" in output and "show.spoken.outro" in output, output
        assert "outro.txt.j2:1" in output and "Traceback" not in output
    assert double.created("script") == double.created("audio") == 0


@pytest.mark.parametrize("language", sorted(codes.LANGUAGES))
def test_the_built_in_intro_and_outro_speak_every_api_language(language: str) -> None:
    templates = Templates(None)
    values = {
        "show": "Reef Radio",
        "title": "Night hunters",
        "number": 7,
        "season": 2,
        "date": "2026-01-01",
        "language": language,
    }
    english = {"intro": "Welcome to", "outro": "Thanks for listening"}
    for part in ("intro", "outro"):
        text = " ".join(templates.render(f"{part}.txt.j2", **values).split())
        assert "Reef Radio" in text and "Night hunters" in text
        if part == "intro":
            assert "7" in text
        # Every API language has its own wording; English is the fallback for anything else.
        assert (english[part] in text) == (language == "en")
    fallback = " ".join(templates.render("intro.txt.j2", **{**values, "language": "xx"}).split())
    assert fallback == "Welcome to Reef Radio. Season 2, episode 7: Night hunters."


# -- Podcasting 2.0 ---------------------------------------------------------------------------

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
NS = {"podcast": PODCAST_NS, "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd"}
AVA_IMAGE = "https://cdn.example.com/voices/ava.png"


def podcasting_show(root: Path, double: StrictDouble) -> Any:
    from lxml import etree

    series_show(
        root,
        hosts=["ava"],
        funding=[{"url": "https://example.com/support", "text": "Support the show!"}],
        license={"name": "CC-BY-4.0"},
        medium="podcast",
    )
    edit_spec(root, "ep-3", publish={"date": "2025-12-01", "season": 1, "episode_type": "trailer"})
    voices = json.loads((root / "voices.json").read_text())
    for record in voices["data"]["records"]:
        if record["name"] == "ava":
            record["image"] = AVA_IMAGE
    (root / "voices.json").write_text(json.dumps(voices))
    run_ok(root, double)
    feed = (root / "output" / "feed.xml").read_bytes()
    return etree.fromstring(feed), feed


def test_podcasting_2_tags_for_a_series_parse_with_the_namespace_rules(
    tmp_path: Path, double: StrictDouble
) -> None:
    import email.utils

    import feedparser

    channel_root, feed = podcasting_show(tmp_path, double)
    channel = channel_root.find("channel")
    assert channel.findtext("podcast:medium", namespaces=NS) == "podcast"
    [host] = channel.findall("podcast:person", NS)
    assert (host.text, host.get("role"), host.get("group"), host.get("img")) == (
        "Ava",
        "host",
        "cast",
        AVA_IMAGE,
    )
    [funding] = channel.findall("podcast:funding", NS)
    assert (funding.get("url"), funding.text) == (
        "https://example.com/support",
        "Support the show!",
    )
    [license_tag] = channel.findall("podcast:license", NS)
    assert license_tag.text == "cc-by-4.0" and license_tag.get("url") is None

    items = {item.findtext("guid"): item for item in channel.findall("item")}
    assert len(items) == 3
    [trailer] = channel.findall("podcast:trailer", NS)
    [trailer_item] = [
        i for i in items.values() if i.findtext("itunes:episodeType", namespaces=NS) == "trailer"
    ]
    enclosure = trailer_item.find("enclosure")
    assert trailer.text == trailer_item.findtext("title")
    assert trailer.get("url") == enclosure.get("url")
    assert trailer.get("length") == enclosure.get("length")
    relative = enclosure.get("url").removeprefix("https://podcast.example.com/")
    assert int(trailer.get("length")) == (tmp_path / "output" / relative).stat().st_size
    assert trailer.get("type") == "audio/mpeg" and trailer.get("season") == "1"
    assert email.utils.parsedate_to_datetime(trailer.get("pubdate")) == (
        email.utils.parsedate_to_datetime(trailer_item.findtext("pubDate"))
    )

    for item in items.values():
        people = [(p.text, p.get("role"), p.get("img")) for p in item.findall("podcast:person", NS)]
        assert people == [("Ava", "host", AVA_IMAGE), ("Leo", "guest", None)]
        duration = float(item.findtext("itunes:duration", namespaces=NS))
        bites = item.findall("podcast:soundbite", NS)
        assert [b.text for b in bites] == ["Opening", "Closing"]
        starts = [float(b.get("startTime")) for b in bites]
        lengths = [float(b.get("duration")) for b in bites]
        assert starts[0] == 0 and 0 < starts[1] < duration
        assert all(0 < length <= 120 for length in lengths)
        assert starts[1] + lengths[1] <= duration + 1
        # The second soundbite starts where the second chapter does.
        folder = tmp_path / "output" / "episodes"
        chapter_files = [p for p in folder.glob("*/chapters.json")]
        chapter_starts = {
            round(c["startTime"], 2)
            for path in chapter_files
            for c in json.loads(path.read_text())["chapters"]
        }
        assert round(starts[1], 2) in chapter_starts

    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 3


BROKEN_TAGS = [
    (('startTime="0.0"', 'startTime="soon"'), "startTime is missing or not a number"),
    (('duration="', 'duration="-'), "duration is missing or not a positive number"),
    ((">Ava</podcast:person>", "></podcast:person>"), "the person's name is empty"),
    (("<podcast:medium>podcast<", "<podcast:medium>radio<"), "'radio' is not a medium"),
    ((' pubdate="', ' pubdate="soon" was="'), "is not an RFC 2822 date"),
    (('<podcast:funding url="https://', '<podcast:funding url="ftp://'), "not an http(s) URL"),
]


def test_the_feed_check_refuses_podcasting_2_tags_that_break_the_rules(
    tmp_path: Path, double: StrictDouble
) -> None:
    from acbatch.publish.feedcheck import ERROR, check_feed

    _channel, feed = podcasting_show(tmp_path, double)
    assert not [p for p in check_feed(feed) if p.severity == ERROR]
    for (old, new), message in BROKEN_TAGS:
        assert old.encode() in feed
        broken = feed.replace(old.encode(), new.encode(), 1)
        found = [str(p) for p in check_feed(broken) if p.severity == ERROR]
        assert any(message in text and "podcast:" in text for text in found), (message, found)


TIDE_POOLS = "Tide pools hold sea stars, crabs and anemones that wait for the water to return."


def sandbox_audio_requests(
    root: Path, sandbox: Any, episodes: dict[str, Any], **show: Any
) -> list[dict[str, Any]]:
    """Run `episodes` (with these show settings) through the sandbox: the audio create bodies
    it received."""
    from acbatch.project.loader import load_project
    from acbatch.runner.batch import RunRequest, run_project

    config = write_show(root, episodes)
    set_show(root, **show)
    project = load_project(config)
    assert not project.errors, [str(p) for p in project.errors]
    result = run_project(
        project, RunRequest(base_url=sandbox.url, render=False, seed=7, poll_initial=0.05)
    )
    assert result.summary.exit_code == 0
    return [task.request for task in sandbox.backend.tasks() if task.kind == "audio"]


def test_the_intro_and_outro_are_spoken_in_each_episodes_language_through_the_sandbox(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", "test-key-123")
    episodes = {
        "umi": {
            "source": {"text": TIDE_POOLS},
            "language": "ja",
            "speakers": ["yui", "haruto"],
            "title": "潮だまり",
            "publish": {"episode": 4},
        },
        "mar": {
            "source": {"text": TIDE_POOLS},
            "language": "Spanish",
            "speakers": ["lucia", "mateo"],
            "title": "Pozas de marea",
            "publish": {"season": 2, "episode": 5},
        },
    }
    bodies = sandbox_audio_requests(
        tmp_path,
        sandbox_factory(synthesize=False),
        episodes,
        title="Reef Radio",
        spoken={"intro": True, "outro": True},
    )
    assert len(bodies) == 2
    turns = {
        body["podcast_script"][0]["text"]: body["podcast_script"][-1]["text"] for body in bodies
    }
    assert turns == {
        "Reef Radioへようこそ。第4回、「潮だまり」です。": (
            "Reef Radio、今回は「潮だまり」をお届けしました。お聴きいただきありがとうございました。"
        ),
        "Bienvenidos a Reef Radio. Temporada 2, episodio 5: Pozas de marea.": (
            "Esto fue Pozas de marea, en Reef Radio. Gracias por escuchar."
        ),
    }
    for body in bodies:
        first, last, host = (
            body["podcast_script"][0],
            body["podcast_script"][-1],
            body["podcast_script"][1],
        )
        assert first["voice_id"] == last["voice_id"] == host["voice_id"] != ""


def test_a_show_published_per_language_names_itself_in_each_language_in_the_intro(
    tmp_path: Path, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOCLEANER_API_KEY", "test-key-123")
    episodes = {
        "pools": {
            "source": {"text": TIDE_POOLS},
            "languages": ["en", "ja"],
            "title": "Tide pools",
            "per_language": {"ja": {"title": "潮だまり"}},
            "publish": {"episode": 4},
        }
    }
    bodies = sandbox_audio_requests(
        tmp_path,
        sandbox_factory(synthesize=False),
        episodes,
        title="Reef Radio",
        languages={"ja": {"title": "リーフ・ラジオ"}},
        spoken={"intro": True},
    )
    assert {body["podcast_script"][0]["text"] for body in bodies} == {
        "Welcome to Reef Radio. Episode 4: Tide pools.",
        "リーフ・ラジオへようこそ。第4回、「潮だまり」です。",
    }
