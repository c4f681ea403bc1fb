"""From runner state to publishing: each downloaded episode becomes a PublishedEpisode."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from acbatch.constants import ORIGINAL_AUDIO_SUFFIX
from acbatch.project.model import Episode, Project
from acbatch.publish.model import Highlight, PublishedEpisode, Turn
from acbatch.publish.render import RenderReport, render_show
from acbatch.runner import bodies
from acbatch.runner.state import DONE_PHASES, EpisodeState, Phase, StateStore, parse_iso


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _turns(script: list[Any]) -> tuple[Turn, ...]:
    turns = []
    for item in script:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            turns.append(
                Turn(
                    role=str(item.get("role") or ""),
                    name=str(item.get("name") or ""),
                    text=item["text"],
                    start=_number(item.get("start_time")),
                    end=_number(item.get("end_time")),
                )
            )
    return tuple(turns)


def _highlights(items: list[Any], turn_count: int) -> tuple[Highlight, ...]:
    highlights = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("highlight"), str):
            continue
        start = item.get("script_start_index")
        end = item.get("script_end_index")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start = min(max(0, start), max(0, turn_count - 1))
        highlights.append(
            Highlight(
                title=item["highlight"],
                script_start_index=start,
                script_end_index=max(start, min(end, max(0, turn_count - 1))),
                start_time=_number(item.get("start_time")),
            )
        )
    return tuple(highlights)


def published_audio(state: EpisodeState) -> tuple[str, float, float, float | None] | None:
    """The published MP3 (path relative to the project), its duration, where the API's audio
    starts in it and how long that lasts; None while there is none yet.

    Episodes downloaded before mastering existed publish their download as it is until the next
    run masters it.
    """
    if state.mastered is not None:
        mastered = state.mastered
        return mastered.path, mastered.duration, mastered.speech_start, mastered.speech_seconds
    download = state.download
    if download is None or download.path.endswith(ORIGINAL_AUDIO_SUFFIX):
        return None
    return download.path, download.duration, 0.0, None


def published_episode(project: Project, episode: Episode, state: EpisodeState) -> PublishedEpisode:
    published = published_audio(state)
    assert published is not None
    path, duration, speech_start, speech_seconds = published
    audio = state.audio.result or {}
    script = state.script.result or {}
    turns = _turns(audio.get("podcast_script") or script.get("podcast_script") or [])
    highlights = _highlights(
        audio.get("hightlights") or script.get("hightlights") or [], len(turns)
    )
    speakers = tuple(dict.fromkeys(t.speaker for t in turns))
    title = episode.title or audio.get("title") or script.get("title") or episode.id
    description = (
        episode.description
        or episode.overrides.get("description")
        or audio.get("processed_content")
        or script.get("processed_content")
        or ""
    )
    pub_date = (
        episode.publish.date
        or parse_iso(state.first_published)
        or parse_iso(state.download.downloaded_at if state.download else None)
        or datetime.now(timezone.utc)
    )
    source_link = episode.publish.link or (
        episode.source.value if episode.source.kind in ("url", "youtube", "attachment") else None
    )
    return PublishedEpisode(
        id=episode.id,
        guid=state.guid,
        title=str(title),
        description=str(description),
        audio_path=project.config.paths.root / path,
        duration=duration,
        turns=turns,
        highlights=highlights,
        speakers=speakers,
        pub_date=pub_date,
        publish=episode.publish,
        language=episode.language,
        source_link=source_link,
        speech_start=speech_start,
        speech_seconds=speech_seconds,
    )


def render_project(
    project: Project, store: StateStore, *, now: datetime | None = None
) -> RenderReport:
    """Render notes, transcripts, chapters, tags, feed and site for every published episode.

    A finished episode whose audio file is missing stops the render with an error rather than
    dropping out of the feed: `acbatch run` fetches its audio again at no cost. An episode
    being redone stays published with its last audio until the new audio replaces it.
    """
    from acbatch.publish.errors import PublishError

    ready: list[tuple[Episode, EpisodeState]] = []
    missing: list[str] = []
    for episode in project.episodes:
        if episode.draft:
            continue
        state = store.load(episode.id)
        if state is None or state.download is None:
            continue
        published = published_audio(state)
        if published is None:
            continue
        finished = state.phase in DONE_PHASES
        if not finished and state.first_published is None:
            continue
        if not (project.config.paths.root / published[0]).is_file():
            if finished:
                missing.append(episode.id)
            continue
        ready.append((episode, state))
    if missing:
        raise PublishError(
            f"{len(missing)} published episode{'s' if len(missing) != 1 else ''} "
            f"{'have' if len(missing) != 1 else 'has'} no audio file under "
            f"{project.config.paths.output}: {', '.join(missing)}. Nothing was rendered, so the "
            "feed keeps them; `acbatch run` fetches their audio again at no cost"
        )
    report = render_show(
        project.config, [published_episode(project, e, s) for e, s in ready], now=now
    )
    for episode, state in ready:
        if state.phase not in DONE_PHASES:
            continue
        fingerprint = bodies.render_fingerprint(episode)
        if state.phase != Phase.RENDERED or state.render_fingerprint != fingerprint:
            state.render_fingerprint = fingerprint
            state.render_inputs = bodies.field_digests(bodies.render_inputs(episode))
            state.move(Phase.RENDERED, "notes, transcripts and feed rendered")
            store.save(state)
    return report
