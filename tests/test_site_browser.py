"""The static site in a real headless Chromium, driven over the DevTools protocol.

Chromium is started with --remote-debugging-pipe: CDP JSON messages, NUL-terminated, on file
descriptors 3 (commands in) and 4 (replies and events out). Only the standard library is needed.
The page is opened from disk (file://) and served over loopback HTTP; every <audio> source must
load, every link must resolve, nothing may be fetched from elsewhere and the console stays clean.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from acbatch.project.model import ShowConfig
from acbatch.publish.model import Highlight, Turn
from acbatch.publish.render import render_show
from tests.samples import sample_config, sample_episode

pytestmark = pytest.mark.browser

NASTY = "<script>alert('x')</script> ]]> & 🎙️"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Put the two pipe ends on fds 3 and 4 whatever their numbers were, then become the browser.
TRAMPOLINE = (
    "import os, sys\n"
    "a = os.dup(int(sys.argv[1])); b = os.dup(int(sys.argv[2]))\n"
    "os.dup2(a, 3); os.dup2(b, 4)\n"
    "os.set_inheritable(3, True); os.set_inheritable(4, True)\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)
CHECK_PAGE_JS = """
(async () => {
  const audio = [...document.querySelectorAll('audio')];
  const results = [];
  for (const element of audio) {
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 10000);
      element.addEventListener('loadedmetadata', () => { clearTimeout(timer); resolve('ok'); },
                               {once: true});
      element.addEventListener('error', () => {
        clearTimeout(timer); resolve('error ' + (element.error ? element.error.code : '?'));
      }, {once: true});
      element.preload = 'metadata';
      element.load();
    });
    results.push({src: element.currentSrc, outcome, duration: element.duration});
  }
  const fetched = {};
  if (location.protocol.startsWith('http')) {
    for (const link of document.querySelectorAll('a[href]')) {
      if (new URL(link.href).origin !== location.origin) continue;
      const response = await fetch(link.href);
      fetched[link.href] = response.status;
    }
  }
  return {
    title: document.title,
    headings: [...document.querySelectorAll('h1, h2')].map((h) => h.textContent),
    scripts: document.scripts.length,
    audio: results,
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
    fetched,
  };
})()
"""


class Browser:
    """A headless Chromium and a minimal CDP client over its debugging pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        self.log_path = profile / "chromium.log"
        self._log = self.log_path.open("wb")
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile / 'profile'}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                TRAMPOLINE,
                str(to_browser_read),
                str(from_browser_write),
                executable,
                *flags,
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.targets: dict[str, str] = {}
        """Session id -> target id of each tab opened."""

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            self.events.append(self._read(deadline))

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer from Chromium; see {self.log_path}")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe; see {self.log_path}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def open_page(self, url: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """Load `url` in a new tab; returns the session, the page check and its events."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.targets[session] = target
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        evaluated = self.send(
            "Runtime.evaluate",
            {"expression": CHECK_PAGE_JS, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in evaluated:
            raise AssertionError(f"page check failed: {evaluated['exceptionDetails']}")
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush events
        page_events = [e for e in self.events if e.get("sessionId") == session]
        self.events = [e for e in self.events if e.get("sessionId") != session]
        return session, evaluated["result"]["value"], page_events

    def screenshot(self, session: str, path: Path) -> None:
        import base64

        data = self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()


def find_chromium() -> str:
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (apt-get install -y chromium)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); CI runs this test")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = find_chromium()
    instance = Browser(executable, tmp_path_factory.mktemp("chromium"))
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ShowConfig:
    config = sample_config(tmp_path_factory.mktemp("site") / "show")
    episodes = [
        sample_episode(
            config,
            "first",
            seconds=2.0,
            title=f"First {NASTY}",
            description=f"About {NASTY}",
            turns=(Turn("A", "Alice", f"Hello {NASTY}"), Turn("B", "Bob", "Hi.")),
            highlights=(Highlight(f"Chapter {NASTY}", 0, 1),),
            pub_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        ),
        sample_episode(
            config,
            "second ep",
            seconds=3.0,
            title="Second",
            pub_date=datetime(2024, 2, 1, tzinfo=timezone.utc),
        ),
    ]
    render_show(config, episodes, now=datetime(2024, 6, 1, tzinfo=timezone.utc))
    return config


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: ShowConfig) -> Iterator[str]:
    handler = partial(QuietHandler, directory=str(site.paths.output))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(json.dumps(params.get("args", []))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return found


def requested_urls(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent"
    ]


def assert_page_is_sound(
    page: dict[str, Any], events: list[dict[str, Any]], origin: str, config: ShowConfig
) -> None:
    assert console_errors(events) == []
    outside = [u for u in requested_urls(events) if not u.startswith((origin, "data:"))]
    assert outside == [], "the page fetched resources from elsewhere"
    assert page["scripts"] == 0
    assert page["title"] == "Sample Show"
    assert page["headings"][:3] == ["Sample Show", "Second", f"First {NASTY}"]
    outcomes = {unquote(urlsplit(a["src"]).path.rsplit("/", 2)[-2]): a for a in page["audio"]}
    assert set(outcomes) == {"first", "second ep"}
    for audio in outcomes.values():
        assert audio["outcome"] == "ok", audio
        assert audio["duration"] > 1.5
    local_links = [link for link in page["links"] if link.startswith(origin)]
    assert any(link.endswith("/transcript.vtt") for link in local_links)
    assert any(link.endswith("/chapters.json") for link in local_links)
    assert any(link.endswith("/notes.html") for link in local_links)
    output = config.paths.output.resolve()
    for link in local_links:
        relative = unquote(urlsplit(link).path)
        if origin.startswith("file:"):
            assert Path(relative).is_file(), link
            assert Path(relative).resolve().is_relative_to(output)
        else:
            assert page["fetched"][link] == 200, link


def test_site_from_disk(browser: Browser, site: ShowConfig, tmp_path: Path) -> None:
    index = (site.paths.output / "index.html").resolve()
    session, page, events = browser.open_page(index.as_uri())
    assert_page_is_sound(page, events, "file://", site)
    browser.screenshot(session, tmp_path / "index.png")
    assert (tmp_path / "index.png").stat().st_size > 1000


def test_site_served_over_http(browser: Browser, site: ShowConfig, served: str) -> None:
    _session, page, events = browser.open_page(served + "index.html")
    assert_page_is_sound(page, events, served, site)


def test_notes_page_over_http(browser: Browser, site: ShowConfig, served: str) -> None:
    _session, page, events = browser.open_page(served + "episodes/first/notes.html")
    assert console_errors(events) == []
    assert page["scripts"] == 0
    assert page["headings"][0] == f"First {NASTY}"
    assert [a["outcome"] for a in page["audio"]] == ["ok"]
    assert all(status == 200 for status in page["fetched"].values())
    assert served + "index.html#first" in page["links"]


# -- accessibility: axe-core on the example show, in two languages ------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
AXE_RUN_JS = """
(async () => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: %s},
                                           resultTypes: ['violations']});
  return {
    version: axe.version,
    rules: axe.getRules(%s).length,
    violations: results.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => n.html.slice(0, 160)),
    })),
  };
})()
"""
UI_HEADINGS_JS = """
[...document.querySelectorAll('h2')].map((h) => [h.textContent, h.closest('[lang]').lang])
"""
JAPANESE_TURNS = (
    Turn("A", "ゆい", "おちゃは、むかしから にほんの くらしに ちかい のみものです。"),
    Turn("B", "はると", "すこし さました おゆで いれると、あまくて やさしい あじに なります。"),
)


def axe_script() -> str:
    """axe-core's browser script, as shipped by its PyPI wrapper."""
    from importlib.resources import files

    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def example_show(root: Path, language: str) -> ShowConfig:
    """The repository's example show (its acbatch.yaml, specs and cover), rendered into `root`
    with real MP3s, the show in `language`."""
    import dataclasses

    from acbatch.project.loader import load_project
    from acbatch.publish.model import PublishedEpisode
    from tests.samples import write_mp3

    project = load_project(Path(__file__).parents[1] / "acbatch.yaml")
    config = project.config
    paths = dataclasses.replace(
        config.paths, output=root / "output", state=root / "state", templates=root / "templates"
    )
    show = dataclasses.replace(config.show, language=language)
    config = dataclasses.replace(config, show=show, paths=paths)
    episodes = []
    for number, episode in enumerate(e for e in project.episodes if not e.draft):
        audio = write_mp3(paths.output / "episodes" / episode.id / f"{episode.id}.mp3", 2.0)
        turns = JAPANESE_TURNS if episode.language == "ja" else None
        sample = sample_episode(config, episode.id, write_audio=False, turns=turns)
        episodes.append(
            dataclasses.replace(
                sample,
                title=episode.title or episode.id,
                audio_path=audio,
                language=episode.language,
                publish=episode.publish,
                pub_date=datetime(2026, 1, 1 + number, tzinfo=timezone.utc),
                highlights=(Highlight(turns[0].text[:12], 0, 0),) if turns else sample.highlights,
            )
        )
        assert isinstance(episodes[-1], PublishedEpisode)
    render_show(config, episodes, now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    return config


@pytest.fixture(scope="module")
def example_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[str]]]:
    """The example show rendered with an English and with a Japanese show page, served: each
    language's page URLs (the index, then every notes page)."""
    root = tmp_path_factory.mktemp("example")
    configs = {lang: example_show(root / lang, lang) for lang in ("en", "ja")}
    handler = partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        yield {
            lang: page_urls(f"{base}{lang}/output/", config.paths.output)
            for lang, config in configs.items()
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def page_urls(site: str, output: Path) -> list[str]:
    notes = sorted(p.relative_to(output).as_posix() for p in output.glob("episodes/*/notes.html"))
    return [site + "index.html", *(site + quote_path(n) for n in notes)]


def quote_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path)


def evaluate(browser: Browser, session: str, expression: str) -> Any:
    evaluated = browser.send(
        "Runtime.evaluate",
        {"expression": expression, "awaitPromise": True, "returnByValue": True},
        session=session,
    )
    if "exceptionDetails" in evaluated:
        raise AssertionError(f"script failed: {evaluated['exceptionDetails']}")
    return evaluated["result"].get("value")


@pytest.mark.slow
def test_axe_core_finds_no_violations_on_any_page(
    browser: Browser, example_sites: dict[str, list[str]]
) -> None:
    """Every page of the example show, English and Japanese: WCAG 2.2 A/AA and best practice."""
    script = axe_script()
    tags = json.dumps(AXE_TAGS)
    checked: dict[str, list[Any]] = {}
    for lang, urls in example_sites.items():
        for url in urls:
            session, _page, events = browser.open_page(url)
            assert console_errors(events) == [], url
            evaluate(browser, session, script + "\n;true")
            result = evaluate(browser, session, AXE_RUN_JS % (tags, tags))
            assert result["rules"] > 50, result
            checked[f"{lang}: {url}"] = result["violations"]
            browser.send("Target.closeTarget", {"targetId": browser.targets[session]})
    assert len(checked) == 2 * (1 + 5)
    violations = [
        f"{page}: {v['id']} ({v['impact']}): {v['help']}: {v['nodes'][:2]}"
        for page, found in checked.items()
        for v in found
    ]
    if violations:
        pytest.fail("axe-core violations:\n" + "\n".join(violations), pytrace=False)


LANGUAGES_JS = """
({
  page: document.documentElement.lang,
  headings: [...document.querySelectorAll('h2')].map(
    (h) => [h.textContent.trim(), h.closest('[lang]').lang]),
  articles: Object.fromEntries([...document.querySelectorAll('article')].map(
    (a) => [a.id, a.closest('[lang]').lang])),
  links: Object.fromEntries([...document.querySelectorAll('a')].map(
    (a) => [a.textContent.trim(), a.closest('[lang]').lang])),
})
"""


def test_every_text_carries_its_language(
    browser: Browser, example_sites: dict[str, list[str]]
) -> None:
    """Articles in another language than the index, and the pages' own English words on a
    Japanese page, are marked with lang (as a screen reader needs them)."""
    found: dict[str, dict[str, Any]] = {}
    for lang, urls in example_sites.items():
        for url in (urls[0], *(u for u in urls if "ocha-no-hanashi" in u or "sleep-debt" in u)):
            session, _page, _events = browser.open_page(url)
            name = "index" if url.endswith("index.html") else url.rsplit("/", 2)[-2]
            found[f"{lang}/{name}"] = evaluate(browser, session, LANGUAGES_JS)
            browser.send("Target.closeTarget", {"targetId": browser.targets[session]})

    english_index = found["en/index"]
    assert english_index["page"] == "en"
    assert english_index["articles"]["ocha-no-hanashi"] == "ja"
    assert english_index["articles"]["sleep-debt"] == "en"
    assert english_index["links"]["Show notes"] == "en"
    japanese_index = found["ja/index"]
    assert japanese_index["page"] == "ja"
    assert japanese_index["articles"]["ocha-no-hanashi"] == "ja"
    assert japanese_index["articles"]["sleep-debt"] == "en"
    assert japanese_index["links"]["RSS feed"] == "en"

    for show_language in ("en", "ja"):
        japanese_notes = found[f"{show_language}/ocha-no-hanashi"]
        assert japanese_notes["page"] == "ja"
        assert japanese_notes["headings"] and all(
            language == "en" for _text, language in japanese_notes["headings"]
        )
        assert japanese_notes["links"]["Audio (MP3)"] == "en"
        assert japanese_notes["links"]["Small Wonders"] == show_language
        english_notes = found[f"{show_language}/sleep-debt"]
        assert english_notes["page"] == "en"
        assert {language for _text, language in english_notes["headings"]} == {"en"}
        assert english_notes["links"]["Small Wonders"] == show_language
