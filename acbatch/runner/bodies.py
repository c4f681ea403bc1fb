"""The create bodies the runner sends, and the fingerprints that decide what a spec change redoes.

- step 1 (script) depends on: source, style, duration, language, speakers, commercial use, mode;
- step 2 (audio) depends on step 1 plus the overrides, an approved review script, and the
  show's series settings that change what is spoken: the pronunciation rules that change the
  script's text and the spoken intro and outro (their templates and values);
- the published MP3 (made locally) depends on the downloaded audio plus acbatch.yaml's
  `audio:` jingles and loudness;
- rendering depends on everything else (publish metadata, titles, descriptions).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from acbatch import codes
from acbatch.project.model import AudioSettings, Episode, ShowConfig, Source, Spoken
from acbatch.voices import VoiceCatalog

SPOKEN_TEMPLATES = (("intro", "intro.txt.j2"), ("outro", "outro.txt.j2"))
"""The spoken turns and the templates they are rendered from (acbatch/templates/)."""


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
    episode: Episode,
    review_script: dict[str, Any] | None,
    *,
    script: str | None = None,
    config: ShowConfig | None = None,
    script_result: dict[str, Any] | None = None,
) -> str:
    """`script`: the episode's script_fingerprint when the caller has it already (it reads
    and hashes a `file:` source). `config` and `script_result` (the finished step-1 answer,
    when there is one) bring in the series settings: see series_inputs."""
    data: dict[str, Any] = {
        "script": script if script is not None else script_fingerprint(episode),
        "overrides": episode.overrides,
        "review": review_script,
    }
    series = series_inputs(episode, config, script_result, review_script)
    if series:  # absent when unused, so that earlier fingerprints stay valid
        data["series"] = series
    return digest(data)


def render_fingerprint(episode: Episode) -> str:
    data = {k: v for k, v in episode.raw.items() if k in ("title", "description", "publish")}
    return digest(data)


def audio_inputs(
    episode: Episode,
    review_script: dict[str, Any] | None,
    *,
    config: ShowConfig | None = None,
    script_result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    inputs: dict[str, Any] = {f"overrides.{k}": v for k, v in episode.overrides.items()}
    inputs["reviewed script"] = review_script
    inputs.update(series_inputs(episode, config, script_result, review_script))
    return inputs


def series_inputs(
    episode: Episode,
    config: ShowConfig | None,
    script_result: dict[str, Any] | None,
    review_script: dict[str, Any] | None,
) -> dict[str, Any]:
    """What the show's series settings add to the episode's audio, named as `plan` shows it.

    - `show.pronunciations`: the show's rules for the episode's language that change its
      spoken text (all of them while there is no script yet), so that a dictionary change
      redoes exactly the episodes it is heard in;
    - `spoken.intro` / `spoken.outro`: when on, the template's text, its values known from
      the spec and the speaker (the rest of what they say comes from the script).
    """
    if config is None:
        return {}
    inputs: dict[str, Any] = {}
    dictionary = dictionary_in_effect(episode, config, script_result, review_script)
    if dictionary:
        inputs["show.pronunciations"] = dictionary
    spoken = episode_spoken(episode, config)
    if spoken.intro or spoken.outro:
        from acbatch.publish.template_files import without_copy_header

        templates = _templates(config)
        values = spoken_values(episode, config, episode.title)
        for part, name in SPOKEN_TEMPLATES:
            if getattr(spoken, part):
                # Only the values the template reads: a new date redoes no audio that does
                # not say it.
                read = templates.variables_read(name)
                inputs[f"spoken.{part}"] = {
                    "template": without_copy_header(templates.source(name)),
                    "values": {k: v for k, v in values.items() if read is None or k in read},
                    "speaker": spoken.speaker,
                }
    return inputs


def episode_spoken(episode: Episode, config: ShowConfig | None) -> Spoken:
    """The episode's spoken intro and outro settings: its own `spoken:` over the show's."""
    show = config.show.spoken if config is not None else Spoken()
    own = episode.raw.get("spoken")
    return show.over(own if isinstance(own, dict) else None)


def spoken_values(episode: Episode, config: ShowConfig, title: str | None) -> dict[str, Any]:
    """The values the intro and outro templates are rendered with."""
    date = episode.publish.date
    # In a show published per language, the show's name in this episode's feed.
    feed = config.show.in_language(episode.output_language) if episode.output_language else None
    return {
        "show": (feed.title if feed is not None else None) or config.show.title,
        "title": title,
        "number": episode.publish.episode,
        "season": episode.publish.season,
        "date": date.date().isoformat() if date is not None else None,
        "language": episode.language,
    }


def _templates(config: ShowConfig) -> Any:
    from acbatch.publish.templating import Templates

    return Templates.shared(config.paths.templates)


def replace_rules(
    episode: Episode, config: ShowConfig | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the show's dictionary rules the episode uses, every rule in the order applied).

    The show's rules for the episode's language run first, then the episode's own
    `overrides.replace`; a show rule whose `find` an episode rule also has is left out: the
    episode's wins.
    """
    own = [rule for rule in episode.overrides.get("replace") or [] if isinstance(rule, dict)]
    finds = {rule.get("find") for rule in own}
    show = config.show.pronunciations.get(episode.language, ()) if config is not None else ()
    dictionary = [dict(rule) for rule in show if rule.get("find") not in finds]
    return dictionary, dictionary + own


def dictionary_in_effect(
    episode: Episode,
    config: ShowConfig | None,
    script_result: dict[str, Any] | None,
    review_script: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The show's dictionary rules that change what the episode says (applied in order, as
    the audio request applies them); every one of them while the script is unknown."""
    dictionary, rules = replace_rules(episode, config)
    if not dictionary or script_result is None:
        return dictionary
    from acbatch.publish.errors import TemplateError

    try:
        draft = _draft_body(episode, script_result, "", None, review_script, config)
    except TemplateError:  # the audio create reports it; the script's own text still counts
        draft = _draft_body(episode, script_result, "", None, review_script, None)
    texts = [str(turn.get("text", "")) for turn in draft["podcast_script"]]
    effective = []
    for position, rule in enumerate(rules):
        changed = [apply_replacements(text, [rule]) for text in texts]
        if position < len(dictionary) and changed != texts:
            effective.append(rule)
        texts = changed
    return effective


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
    return _compiled(str(rule["find"]), bool(rule.get("regex")), bool(rule.get("ignore_case")))


@functools.lru_cache(maxsize=4096)
def _compiled(find: str, regex: bool, ignore_case: bool) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    pattern = find if regex else re2.escape(find)
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ReplacementError(
            f"the pattern cannot be used ({detail}); back-references and look-around are not "
            "supported"
        ) from None


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
    config: ShowConfig | None = None,
) -> dict[str, Any]:
    """The step-2 body: the step-1 result as the FAQ recommends, review edits, overrides, the
    spoken intro and outro, then the show's and the episode's find/replace rules.

    Raises acbatch.publish.errors.TemplateError when a spoken turn's template fails.
    """
    body = _draft_body(episode, script_result, script_global_id, catalog, review_script, config)
    rules = replace_rules(episode, config)[1]
    if rules:
        for turn in body["podcast_script"]:
            turn["text"] = apply_replacements(turn["text"], rules)
    return body


def _draft_body(
    episode: Episode,
    script_result: dict[str, Any],
    script_global_id: str,
    catalog: VoiceCatalog | None,
    review_script: dict[str, Any] | None,
    config: ShowConfig | None,
) -> dict[str, Any]:
    """The step-2 body before the find/replace rules."""
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
    for turn in body["podcast_script"]:
        if turn.get("role") in voices:
            turn["voice_id"] = _resolve_voice(voices[turn["role"]], catalog)
        turn.setdefault("name", "")
        turn.setdefault("avatar", "")
        turn.setdefault("voice_id", "")
    if config is not None:
        _add_spoken_turns(body, episode, config)
    return body


def _add_spoken_turns(body: dict[str, Any], episode: Episode, config: ShowConfig) -> None:
    """The intro as the first turn and the outro as the last, spoken by the episode's host
    (`spoken.speaker`, else whoever speaks first); highlights keep pointing at their turns."""
    spoken = episode_spoken(episode, config)
    turns = body["podcast_script"]
    if not (spoken.intro or spoken.outro) or not turns:
        return
    host = next((turn for turn in turns if turn.get("role") == spoken.speaker), turns[0])
    values = spoken_values(episode, config, episode.title or body["title"] or episode.id)
    templates = _templates(config)
    for part, name in SPOKEN_TEMPLATES:
        if not getattr(spoken, part):
            continue
        text = " ".join(templates.render(name, **values).split())
        if not text:
            continue
        turn = {key: host.get(key, "") for key in ("role", "name", "avatar", "voice_id")}
        turn["text"] = text
        if part == "intro":
            turns.insert(0, turn)
            for highlight in body["hightlights"]:
                for key in ("script_start_index", "script_end_index"):
                    if isinstance(highlight, dict) and isinstance(highlight.get(key), int):
                        highlight[key] += 1
        else:
            turns.append(turn)
