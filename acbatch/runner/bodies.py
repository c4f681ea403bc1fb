"""The create bodies the runner sends, and the fingerprints that decide what a spec change redoes.

- step 1 (script) depends on: source, style, duration, language, speakers, commercial use, mode;
- step 2 (audio) depends on step 1 plus the overrides and an approved review script;
- the published MP3 (made locally) depends on the downloaded audio plus acbatch.yaml's
  `audio:` jingles and loudness;
- rendering depends on everything else (publish metadata, titles, descriptions).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.project.model import AudioSettings, Episode, Source
from acbatch.voices import VoiceCatalog


def digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def source_limits(source: Source) -> dict[str, int]:
    """acbatch.yaml's limits for a `file:` source, as extract_text's keyword arguments."""
    limits = {"max_bytes": source.max_bytes, "max_chars": source.max_chars}
    return {name: value for name, value in limits.items() if value is not None}


def _source_identity(episode: Episode) -> dict[str, str]:
    source = episode.source
    if source.kind == "file" and source.path is not None:
        from acbatch.sources import file_fingerprint

        try:
            content = file_fingerprint(source.path)
        except OSError:
            content = "unreadable"
        return {"file": source.value, "sha256": content}
    return {source.kind: source.value}


def script_inputs(episode: Episode) -> dict[str, Any]:
    return {
        "source": _source_identity(episode),
        "style": episode.style,
        "duration": episode.duration_level,
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


MASTERING_VERSION = 1
"""Bumped when the mastering itself changes, so every published file is made again (free)."""


def mastering_inputs(audio: AudioSettings) -> dict[str, Any]:
    """What the published MP3 is made with besides the API's audio: jingles by content."""
    from acbatch.publish.mastering import file_digest

    def jingle(path: Path | None) -> str | None:
        if path is None:
            return None
        try:
            return file_digest(path)
        except OSError:
            return "missing"  # the run reports it when it masters

    jingles = audio.intro is not None or audio.outro is not None
    loudness = None
    if audio.loudness_target is not None:
        loudness = {"target": audio.loudness_target, "true_peak": audio.true_peak}
    return {
        "audio.intro": jingle(audio.intro),
        "audio.outro": jingle(audio.outro),
        "audio.crossfade": audio.crossfade if jingles else None,
        "audio.loudness": loudness,
        "mastering": MASTERING_VERSION,
    }


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
        "duration": episode.duration_level,
        "use_mode": episode.use_mode,
        "commercial_use": 1 if episode.commercial_use else 0,
        "language": episode.language,
    }
    if source.kind == "text":
        body["text"] = source.value
    elif source.kind == "file":
        from acbatch.sources import extract_text

        assert source.path is not None
        body["text"] = extract_text(source.path, **source_limits(source))
    else:
        body["url"] = source.value
    return body


def _resolve_voice(ref: int | str, catalog: VoiceCatalog | None) -> str:
    voice = catalog.find(ref) if catalog is not None else None
    if voice is not None:
        return voice.step2_voice_id
    return str(ref)


class ReplacementError(ValueError):
    """A replace rule's pattern that the non-backtracking engine cannot run, or one that
    backtracks catastrophically in the usual engines."""


def compile_find(rule: dict[str, Any]) -> Any:
    """The rule's pattern for RE2, a linear-time engine: no input can make it hang."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not rule.get("ignore_case")
    pattern = rule["find"] if rule.get("regex") else re2.escape(rule["find"])
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ReplacementError(
            f"the pattern cannot be used ({detail}); back-references and look-around are not "
            "supported"
        ) from None


def catastrophic_backtracking(pattern: str) -> str | None:
    """The part of `pattern` that backtracks exponentially in backtracking engines (a repeated
    group holding an unbounded repeat, like `(a+)+`), or None."""
    try:
        import re._parser as sre_parse
    except ImportError:  # Python 3.10
        import sre_parse
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None  # RE2 reports what is wrong with it
    repeats = (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT)
    anchors = (sre_parse.AT,)

    def can_be_empty(op: Any, argument: Any) -> bool:
        if op in repeats:
            return argument[0] == 0 or all(can_be_empty(*item) for item in argument[2])
        if op == sre_parse.SUBPATTERN:
            return all(can_be_empty(*item) for item in argument[-1])
        if op == sre_parse.BRANCH:
            return any(all(can_be_empty(*item) for item in branch) for branch in argument[1])
        return op in anchors

    def ambiguous(items: Any) -> bool:
        """Can one stretch of text be split between repeats of `items` in many ways? True
        when `items` is, apart from parts that may match nothing and other repeats, a repeat
        of its own."""
        items = list(items)
        for index, (op, argument) in enumerate(items):
            others = items[:index] + items[index + 1 :]
            if not all(other in repeats or can_be_empty(other, arg) for other, arg in others):
                continue
            if op in repeats and argument[1] > 1:
                return True
            if op == sre_parse.SUBPATTERN and ambiguous(argument[-1]):
                return True
            if op == sre_parse.BRANCH and any(ambiguous(branch) for branch in argument[1]):
                return True
        return False

    def find(items: Any) -> bool:
        for op, argument in items:
            if op in repeats:
                _low, high, body = argument
                if (high == sre_parse.MAXREPEAT and ambiguous(body)) or find(body):
                    return True
            elif op == sre_parse.SUBPATTERN:
                if find(argument[-1]):
                    return True
            elif op == sre_parse.BRANCH and any(find(branch) for branch in argument[1]):
                return True
        return False

    return "a repeated group that itself holds a repeat" if find(parsed) else None


def _with_case_of(matched: str, replacement: str) -> str:
    """`replacement` in the case of the text it replaces: ALL CAPS stays all caps, a leading
    capital stays a leading capital; otherwise the replacement as written."""
    letters = [char for char in matched if char.isalpha()]
    if not letters or not replacement:
        return replacement
    if len(letters) > 1 and all(char.isupper() for char in letters):
        return replacement.upper()
    if letters[0].isupper():
        first = next((i for i, char in enumerate(replacement) if char.isalpha()), None)
        if first is not None:
            return replacement[:first] + replacement[first].upper() + replacement[first + 1 :]
    return replacement


def apply_replacements(text: str, rules: list[dict[str, Any]]) -> str:
    """Apply `overrides.replace` rules in order, with RE2 (linear time, whatever the input).

    With `ignore_case`, the replacement takes the case of what it replaces ("Octopus" ->
    "Octopodes", "OCTOPUS" -> "OCTOPODES") unless the rule says `keep_case: false`.
    """
    for rule in rules:
        pattern = compile_find(rule)
        regex = bool(rule.get("regex"))
        replacement = str(rule["replace"])
        keep_case = bool(rule.get("ignore_case")) and rule.get("keep_case", True) is not False

        def substitute(
            match: Any, replacement: str = replacement, regex: bool = regex, keep: bool = keep_case
        ) -> str:
            value = match.expand(replacement) if regex else replacement
            return _with_case_of(match.group(0), value) if keep else value

        text = pattern.sub(substitute, text)
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
