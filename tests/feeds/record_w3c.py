"""Rebuild tests/feeds/broken/ from corpus.yaml, and record the W3C feed validator's verdicts.

    python tests/feeds/record_w3c.py                       # rewrite broken/*.xml only
    python tests/feeds/record_w3c.py --validator SRC       # and re-record corpus.yaml's w3c:

SRC is the `src` folder of a checkout of the W3C feed validator (github.com/w3c/feedvalidator;
it is not on PyPI and needs html5lib). Its verdict is its "AA" level, the one its web service
shows, with each message class listed once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.yaml"
GOOD = HERE / "good.xml"
BROKEN = HERE / "broken"
# The address the corpus feeds claim for themselves (their atom:link rel="self").
FEED_URL = "https://podcasts.example.com/show/feed.xml"


def broken_feeds(corpus: dict[str, Any]) -> dict[str, str]:
    good = GOOD.read_text(encoding="utf-8")
    feeds = {}
    for name, fault in corpus["faults"].items():
        if good.count(fault["find"]) != 1:
            raise SystemExit(f"{name}: `find` must occur exactly once in good.xml")
        feeds[name] = good.replace(fault["find"], fault["replace"])
    return feeds


def w3c_verdict(validator_src: Path, data: bytes) -> dict[str, list[str]]:
    sys.path.insert(0, str(validator_src))
    import feedvalidator
    from feedvalidator import compatibility
    from feedvalidator.logging import Error, ValidationFailure, Warning

    try:
        events = feedvalidator.validateString(data, firstOccurrenceOnly=1, base=FEED_URL)[
            "loggedEvents"
        ]
    except ValidationFailure as failure:
        events = [failure.event]
    events = compatibility.AA(events)
    return {
        "errors": sorted({type(e).__name__ for e in events if isinstance(e, Error)}),
        "warnings": sorted(
            {
                type(e).__name__
                for e in events
                if isinstance(e, Warning) and not isinstance(e, Error)
            }
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validator", type=Path, help="the W3C feed validator's src folder")
    args = parser.parse_args()
    text = CORPUS.read_text(encoding="utf-8")
    corpus = yaml.safe_load(text)
    feeds = broken_feeds(corpus)
    BROKEN.mkdir(exist_ok=True)
    for stale in BROKEN.glob("*.xml"):
        stale.unlink()
    for name, feed in feeds.items():
        (BROKEN / f"{name}.xml").write_text(feed, encoding="utf-8")
    if args.validator is None:
        return
    corpus["good"]["w3c"] = w3c_verdict(args.validator, GOOD.read_bytes())
    for name, feed in feeds.items():
        corpus["faults"][name]["w3c"] = w3c_verdict(args.validator, feed.encode("utf-8"))
    header = text[: text.index("good:")]

    class Dumper(yaml.SafeDumper):
        pass

    def block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, block_strings)
    body = yaml.dump(corpus, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=200)
    CORPUS.write_text(header + body, encoding="utf-8")


if __name__ == "__main__":
    main()
