"""The create bodies the runner sends, and the fingerprints that decide what a spec change redoes.

- step 1 (script) depends on: source, style, duration, language, speakers, commercial use, mode;
- step 2 (audio) depends on step 1 plus the overrides and an approved review script;
- rendering depends on everything else (publish metadata, titles, descriptions).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from acbatch import codes
from acbatch.spec.model import Episode
from acbatch.voices import VoiceCatalog


def digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _source_identity(episode: Episode) -> dict[str, str]:
    source = episode.source
    if source.kind == "file" and source.path is not None:
        try:
            content = hashlib.sha256(source.path.read_bytes()).hexdigest()
        except OSError:
            content = "unreadable"
        return {"file": source.value, "sha256": content}
    return {source.kind: source.value}


def script_inputs(episode: Episode) -> dict[str, Any]:
    return {
        "source": _source_identity(episode),
        "style": episode.style,
        "duration": episode.duration,
        "language": episode.language,
        "speakers": list(episode.speaker_ids),
        "commercial_use": episode.commercial_use,
        "use_mode": episode.use_mode,
    }


def script_fingerprint(episode: Episode) -> str:
    return digest(script_inputs(episode))


def audio_fingerprint(
    episode: Episode, review_script: dict[str, Any] | None, *, script: str | None = None
) -> str:
    """`script`: the episode's script_fingerprint when the caller has it already (it reads
    and hashes a `file:` source)."""
    return digest(
        {
            "script": script if script is not None else script_fingerprint(episode),
            "overrides": episode.overrides,
            "review": review_script,
        }
    )


def render_fingerprint(episode: Episode) -> str:
    data = {k: v for k, v in episode.raw.items() if k in ("title", "description", "publish")}
    return digest(data)


def audio_inputs(episode: Episode, review_script: dict[str, Any] | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {f"overrides.{k}": v for k, v in episode.overrides.items()}
    inputs["reviewed script"] = review_script
    return inputs


def render_inputs(episode: Episode) -> dict[str, Any]:
    inputs: dict[str, Any] = {k: episode.raw.get(k) for k in ("title", "description")}
    publish = episode.raw.get("publish")
    for key, value in (publish if isinstance(publish, dict) else {}).items():
        inputs[f"publish.{key}"] = value
    return inputs


def field_digests(inputs: dict[str, Any]) -> dict[str, str]:
    """One short digest per input, kept in state so that `plan` can say what changed."""
    return {name: digest(value)[:16] for name, value in inputs.items()}


def changed_fields(recorded: dict[str, str], wanted: dict[str, str]) -> tuple[str, ...]:
    """The inputs whose digests differ (nothing when no digests were recorded)."""
    if not recorded:
        return ()
    return tuple(
        sorted(k for k in recorded.keys() | wanted.keys() if recorded.get(k) != wanted.get(k))
    )


def script_request(episode: Episode) -> dict[str, Any]:
    """The step-1 create body, exactly as the reference documents it."""
    source = episode.source
    body: dict[str, Any] = {
        "source_type": int(codes.SOURCE_KEYS[source.kind]),
        "speakers": list(episode.speaker_ids),
        "style": episode.style,
        "duration": episode.duration,
        "use_mode": episode.use_mode,
        "commercial_use": 1 if episode.commercial_use else 0,
        "language": episode.language,
    }
    if source.kind == "text":
        body["text"] = source.value
    elif source.kind == "file":
        from acbatch.sources import extract_text

        assert source.path is not None
        body["text"] = extract_text(source.path)
    else:
        body["url"] = source.value
    return body


def _resolve_voice(ref: int | str, catalog: VoiceCatalog | None) -> str:
    voice = catalog.find(ref) if catalog is not None else None
    if voice is not None:
        return voice.step2_voice_id
    return str(ref)


def apply_replacements(text: str, rules: list[dict[str, Any]]) -> str:
    for rule in rules:
        flags = re.IGNORECASE if rule.get("ignore_case") else 0
        pattern = rule["find"] if rule.get("regex") else re.escape(rule["find"])
        if rule.get("regex"):
            text = re.sub(pattern, rule["replace"], text, flags=flags)
        else:
            literal = str(rule["replace"])
            text = re.sub(pattern, lambda _match, value=literal: value, text, flags=flags)
    return text


def audio_request(
    episode: Episode,
    script_result: dict[str, Any],
    script_global_id: str,
    *,
    catalog: VoiceCatalog | None = None,
    review_script: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The step-2 body: the step-1 result as the FAQ recommends, review edits, then overrides."""
    base = review_script or script_result
    body: dict[str, Any] = {
        "title": base.get("title") or script_result.get("title") or "",
        "processed_content": base.get("processed_content")
        or script_result.get("processed_content")
        or "",
        "podcast_script": copy.deepcopy(base.get("podcast_script") or []),
        "hightlights": copy.deepcopy(base.get("hightlights") or []),
        "global_id": script_global_id,
    }
    overrides = episode.overrides
    if "title" in overrides:
        body["title"] = overrides["title"]
    if "description" in overrides:
        body["processed_content"] = overrides["description"]
    if "script" in overrides:
        body["podcast_script"] = copy.deepcopy(overrides["script"])
    if "highlights" in overrides:
        body["hightlights"] = copy.deepcopy(overrides["highlights"])
    voices = overrides.get("voices") or {}
    rules = overrides.get("replace") or []
    for turn in body["podcast_script"]:
        if turn.get("role") in voices:
            turn["voice_id"] = _resolve_voice(voices[turn["role"]], catalog)
        if rules:
            turn["text"] = apply_replacements(turn["text"], rules)
        turn.setdefault("name", "")
        turn.setdefault("avatar", "")
        turn.setdefault("voice_id", "")
    return body
