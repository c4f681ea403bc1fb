"""Benchmark: render a show of many episodes and print wall time and peak memory per phase.

    .venv/bin/python bench/bench_render.py                # 10,000 episodes
    .venv/bin/python bench/bench_render.py --episodes 2000 --keep /tmp/show

Phases: a cold render (tags every MP3 and writes every per-episode file), a render with nothing
changed (per-episode work skipped by content hash; feed and page assembled from cached items), a
render with one changed episode (its MP3 re-tagged, its item checked), a render after the item
templates changed (every feed item and page article rendered, the whole feed checked, no MP3 or
per-episode file touched), feed.xml alone with every item rendered from scratch, and the feed
check alone. Target: a 10,000-episode feed in under 3 s. The cold render is bound by MP3
tagging (mutagen) and file creation; use --tmp /dev/shm to leave the disk out of it.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from markupsafe import Markup

from acbatch.publish.artwork import publish_show_image
from acbatch.publish.cache import CACHE_FILE, RenderCache
from acbatch.publish.feedcheck import check_feed
from acbatch.publish.feedurls import base_folder_url
from acbatch.publish.model import Highlight, PublishedEpisode, Turn
from acbatch.publish.render import render_show
from acbatch.publish.samples import mp3_bytes, sample_config, sample_episode
from acbatch.publish.templating import Templates
from acbatch.publish.views import episode_view, show_view
from acbatch.spec.model import Publish, ShowConfig

FEED_TARGET_SECONDS = 3.0
START = datetime(2000, 1, 1, 6, 0, tzinfo=timezone.utc)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_episodes(
    config: ShowConfig, count: int, turns_per_episode: int
) -> list[PublishedEpisode]:
    audio = mp3_bytes(1.0)
    episodes = []
    for index in range(count):
        episode_id = f"ep{index:05d}"
        path = config.paths.output / "episodes" / episode_id / f"{episode_id}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio)
        turns = tuple(
            Turn("AB"[t % 2], ("Alice", "Bob")[t % 2], f"Line {t} of episode {index} & more.")
            for t in range(turns_per_episode)
        )
        highlights = (
            Highlight("Opening", 0, 1),
            Highlight("Middle <part>", turns_per_episode // 2, turns_per_episode - 1),
        )
        episodes.append(
            sample_episode(
                config,
                episode_id,
                title=f"Episode {index}: a title with <tags> & emoji 🎧",
                description=f"Episode {index} covers things.\n\nSecond paragraph ]]> done.",
                turns=turns,
                highlights=highlights,
                pub_date=START + timedelta(hours=index),
                publish=Publish(season=1 + index // 1000, episode=index + 1),
                write_audio=False,
            )
        )
    return episodes


def feed_from_scratch(config: ShowConfig, episodes: list[PublishedEpisode], now: datetime) -> int:
    """feed.xml alone, every item rendered anew: views, item template, channel, full check.

    Uses the durations and sizes the last render recorded, as a render does for unchanged MP3s.
    """
    cache = RenderCache.load(config.paths.state / CACHE_FILE)
    templates = Templates(config.paths.templates)
    image = publish_show_image(
        config.show.image, config.paths.config, config.paths.output, config.show.base_url
    )
    show = show_view(config.show, image, now)
    items = []
    for episode in sorted(episodes, key=lambda e: e.pub_date, reverse=True):
        record = cache.records[episode.id]
        view = episode_view(
            episode,
            show=config.show,
            audio_relpath=f"episodes/{episode.id}/{episode.id}.mp3",
            audio_size=record.audio_size,
            duration=record.duration,
            chapters=record.chapters,
            has_transcript=record.has_transcript,
            image=None,
        )
        items.append(Markup(templates.render("feed_item.xml.j2", show=show, episode=view)))
    feed = templates.render("feed.xml.j2", show=show, items=items).encode("utf-8")
    problems = check_feed(
        feed, local_root=config.paths.output, base_url=base_folder_url(config.show.base_url)
    )
    assert not [p for p in problems if p.severity == "error"], problems[:3]
    return len(feed)


def override_item_templates(config: ShowConfig) -> None:
    """Copies of the built-in item templates in the show's templates/ folder (a new key)."""
    from importlib.resources import files

    config.paths.templates.mkdir(parents=True, exist_ok=True)
    for name in ("feed_item.xml.j2", "index_item.html.j2"):
        builtin = files("acbatch").joinpath("templates", name).read_text(encoding="utf-8")
        (config.paths.templates / name).write_text(builtin + "\n", encoding="utf-8")


def timed(label: str, action, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action(*args, **kwargs)
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.2f} s   peak RSS {peak_rss_mib():8.1f} MiB", flush=True)
    return result, elapsed


def phases(report) -> str:  # type: ignore[no-untyped-def]
    return "  ".join(f"{name} {seconds:.2f}s" for name, seconds in report.timings.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=8, help="dialogue turns per episode")
    parser.add_argument("--keep", type=Path, default=None, help="render here and keep it")
    parser.add_argument(
        "--tmp", type=Path, default=None, help="folder for the temporary show (e.g. /dev/shm)"
    )
    args = parser.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="acbatch-bench-", dir=args.tmp))
    try:
        config = sample_config(root / "show")
        now = START + timedelta(hours=args.episodes + 1)
        episodes, _ = timed(
            f"prepare {args.episodes} episodes (MP3 files)",
            build_episodes,
            config,
            args.episodes,
            args.turns,
        )
        cold, _ = timed("cold render (tags + every file)", render_show, config, episodes, now=now)
        print("   ", phases(cold))
        warm, warm_seconds = timed(
            "warm render (nothing changed)", render_show, config, episodes, now=now
        )
        print("   ", phases(warm), f"  unchanged {len(warm.unchanged)}")
        changed = [replace(episodes[0], title="Changed title"), *episodes[1:]]
        one, one_seconds = timed(
            "warm render (one episode changed)", render_show, config, changed, now=now
        )
        print("   ", phases(one), f"  unchanged {len(one.unchanged)}")
        override_item_templates(config)
        items, items_seconds = timed(
            "every feed item and article re-rendered", render_show, config, changed, now=now
        )
        print("   ", phases(items))
        _, scratch_seconds = timed(
            "feed.xml alone, every item from scratch", feed_from_scratch, config, changed, now
        )
        feed_seconds = warm.timings["feed"]
        check_seconds = warm.timings["check"]
        feed_bytes = (config.paths.output / "feed.xml").read_bytes()
        _, parse_seconds = timed(
            "feed check alone (parse + rules + file sizes)",
            check_feed,
            feed_bytes,
            local_root=config.paths.output,
            base_url=base_folder_url(config.show.base_url),
        )
        print(
            f"feed.xml: {len(feed_bytes) / 1e6:.1f} MB, {len(warm.published)} items; "
            f"feed template {feed_seconds:.2f} s + check {check_seconds:.2f} s "
            f"(alone {parse_seconds:.2f} s)"
        )
        for label, seconds in (
            ("feed.xml alone, every item from scratch, checked", scratch_seconds),
            ("render_show, nothing changed", warm_seconds),
            ("render_show, one episode changed", one_seconds),
            ("render_show, every feed item and article re-rendered", items_seconds),
        ):
            verdict = "OK" if seconds < FEED_TARGET_SECONDS else "SLOWER THAN TARGET"
            print(f"{label}: {seconds:.2f} s (target {FEED_TARGET_SECONDS:.0f} s) {verdict}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
