"""The voice catalog: the documented voice-resource JSON, saved by the user as voices.json.

The API documents the format but no endpoint, so the catalog is a file. Specs may name voices
(`name` or `display_name`, case-insensitive) instead of numeric speaker ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acbatch.project.model import Episode, Problem, Project

GENDERS = {1: "male", 2: "female"}


class CatalogError(Exception):
    """The catalog file is missing or not in the documented format."""


@dataclass(frozen=True)
class Voice:
    id: int
    name: str
    display_name: str
    language: str
    gender: int | None = None
    gender_text: str = ""
    age: int | None = None
    age_text: str = ""
    tags: tuple[str, ...] = ()
    image: str = ""
    audio: str = ""
    voice_id: str = ""
    emotion: tuple[str, ...] = ()

    @property
    def step2_voice_id(self) -> str:
        """What a script turn's `voice_id` carries for this voice."""
        return self.voice_id or self.audio

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Voice:
        if not isinstance(record, dict) or not isinstance(record.get("id"), int):
            raise CatalogError(f"voice record without an integer id: {record!r:.120}")
        gender = record.get("gender")
        return cls(
            id=record["id"],
            name=str(record.get("name") or ""),
            display_name=str(record.get("display_name") or record.get("name") or ""),
            language=str(record.get("language") or ""),
            gender=gender if isinstance(gender, int) else None,
            gender_text=str(
                record.get("gender_text")
                or (GENDERS.get(gender, "") if isinstance(gender, int) else "")
            ),
            age=record.get("age") if isinstance(record.get("age"), int) else None,
            age_text=str(record.get("age_text") or ""),
            tags=tuple(str(t) for t in record.get("tags") or ()),
            image=str(record.get("image") or ""),
            audio=str(record.get("audio") or ""),
            voice_id=str(record.get("voice_id") or ""),
            emotion=tuple(str(t) for t in record.get("emotion") or ()),
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "gender": self.gender,
            "gender_text": self.gender_text,
            "language": self.language,
            "age": self.age,
            "age_text": self.age_text,
            "emotion": list(self.emotion),
            "image": self.image,
            "audio": self.audio,
            "voice_id": self.voice_id,
            "tags": list(self.tags),
            "name": self.name,
            "display_name": self.display_name,
        }


SANDBOX_MARKER = "sandbox"
"""Top-level field set to true in the sandbox's demo catalog (not part of the API's format)."""
SANDBOX_VOICE_PREFIX = "sandbox/"
"""Every demo voice's voice_id starts with this; the real service knows none of them."""

SANDBOX_CATALOG_MESSAGE = (
    "acbatch sandbox demo voices: they work only offline with the sandbox. For the real "
    "service, download your account's catalog and run `acbatch voices import FILE`."
)
REAL_CATALOG_HOWTO = (
    "download your account's voice catalog from the audiocleaner.ai dashboard (Developer > "
    'Playground > "TAI Podcast Master") and install it with `acbatch voices import FILE`'
)


@dataclass
class VoiceCatalog:
    voices: list[Voice] = field(default_factory=list)
    source: Path | None = None
    sandbox: bool = False
    """The sandbox's demo catalog: its ids and voice_ids exist only in the sandbox."""

    def __iter__(self) -> Iterator[Voice]:
        return iter(self.voices)

    def __len__(self) -> int:
        return len(self.voices)

    @classmethod
    def from_document(cls, document: Any, source: Path | None = None) -> VoiceCatalog:
        where = f"{source}: " if source else ""
        if not isinstance(document, dict):
            raise CatalogError(f"{where}expected a JSON object with code/data/records")
        data = document.get("data")
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise CatalogError(f"{where}expected data.records to be a list")
        try:
            voices = [Voice.from_record(r) for r in records]
        except CatalogError as exc:
            raise CatalogError(f"{where}{exc}") from None
        marked = document.get(SANDBOX_MARKER) is True
        demo_ids = bool(voices) and all(v.voice_id.startswith(SANDBOX_VOICE_PREFIX) for v in voices)
        return cls(voices, source, sandbox=marked or demo_ids)

    @classmethod
    def load(cls, path: Path) -> VoiceCatalog:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CatalogError(f"{path}: voice catalog not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogError(f"{path}: not a readable JSON voice catalog ({exc})") from None
        return cls.from_document(document, path)

    def to_document(self) -> dict[str, Any]:
        from acbatch.codes import SUCCESS

        document: dict[str, Any] = {
            "code": SUCCESS,
            "data": {"total": len(self.voices), "records": [v.to_record() for v in self.voices]},
            "message": SANDBOX_CATALOG_MESSAGE if self.sandbox else "Request Success",
        }
        if self.sandbox:
            document[SANDBOX_MARKER] = True
        return document

    def by_id(self, voice_id: int) -> Voice | None:
        return next((v for v in self.voices if v.id == voice_id), None)

    def find(self, ref: int | str) -> Voice | None:
        """A voice by numeric id, or by name / display name (case-insensitive)."""
        if isinstance(ref, int):
            return self.by_id(ref)
        wanted = ref.strip().casefold()
        for voice in self.voices:
            if wanted in (voice.name.casefold(), voice.display_name.casefold()):
                return voice
        return None

    def by_step2_voice_id(self, voice_id: str) -> Voice | None:
        return next((v for v in self.voices if voice_id and v.step2_voice_id == voice_id), None)

    def names(self) -> list[str]:
        return [v.name for v in self.voices if v.name]

    def filter(
        self, language: str | None = None, gender: str | None = None, tag: str | None = None
    ) -> list[Voice]:
        def keep(v: Voice) -> bool:
            if language and v.language != language:
                return False
            if gender and v.gender_text.casefold() != gender.casefold():
                return False
            return not (tag and tag.casefold() not in (t.casefold() for t in v.tags))

        return [v for v in self.voices if keep(v)]


# -- what a live run may send ------------------------------------------------------------------


def live_catalog_problems(
    project: Project | VoiceCatalog | None, episodes: Iterable[Episode] | None = None
) -> list[Problem]:
    """Problems a run against the real service would have with the voice catalog.

    `project` is a loaded Project (its voices.json is read; `episodes` default to all of its
    episodes) or an already loaded catalog (None: no catalog file). Errors (severity "error"):
    an episode that resolves a voice name, or sends a voice_id, through the sandbox's demo
    catalog, or that sends a "sandbox/..." voice_id at all: the real service knows none of them.
    Warnings: a numeric speaker id (or overrides.voices id) the catalog does not hold, or
    cannot vouch for because it is the demo catalog. Each problem names the spec file, line,
    column and field, and the errors say how to get the real catalog.
    """
    from acbatch.project.model import Problem, Project
    from acbatch.project.schema import format_field

    catalog: VoiceCatalog | None
    if isinstance(project, Project):
        if episodes is None:
            episodes = project.episodes
        path = project.config.paths.voices
        try:
            catalog = VoiceCatalog.load(path) if path.is_file() else None
        except CatalogError:
            catalog = None  # validation reports the broken file itself
        config_path: Path | None = project.config.paths.config
        defaults = project.config.defaults
    else:
        catalog = project
        config_path = None
        defaults = {}
    shown = catalog.source.name if catalog is not None and catalog.source else "voices.json"
    problems: list[Problem] = []
    for episode in episodes or ():
        locate = _Locator(episode.spec_path, config_path, defaults)

        def add(
            where: tuple[str | int, ...],
            message: str,
            severity: str = "error",
            locate: _Locator = locate,
        ) -> None:
            file, line, column = locate(where)
            problem = Problem(file, line, column, format_field(where), message, None, severity)
            if problem not in problems:  # a default shared by many episodes is said once
                problems.append(problem)

        for index, ref in enumerate(episode.speakers):
            where: tuple[str | int, ...] = ("speakers", index)
            numeric = isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit())
            if catalog is None:
                continue
            if numeric:
                speaker_id = int(ref)
                if catalog.sandbox:
                    add(
                        where,
                        f"speaker id {speaker_id} cannot be checked: {shown} is the sandbox's "
                        f"demo catalog, not your account's; {REAL_CATALOG_HOWTO}",
                        "warning",
                    )
                elif catalog.by_id(speaker_id) is None:
                    add(
                        where,
                        f"speaker id {speaker_id} is not in {shown} (your account's voice "
                        "catalog); the service may refuse it",
                        "warning",
                    )
                continue
            voice = catalog.find(str(ref))
            if catalog.sandbox or (voice is not None and _sandbox_only(voice.step2_voice_id)):
                add(
                    where,
                    f"'{ref}' is a voice of the sandbox's demo catalog ({shown}); the real "
                    f"service does not know it: {REAL_CATALOG_HOWTO}",
                )
        voices = episode.overrides.get("voices") or {}
        for role, ref in voices.items():
            where = ("overrides", "voices", str(role))
            voice = catalog.find(ref) if catalog is not None else None
            sent = voice.step2_voice_id if voice is not None else str(ref)
            if voice is not None and (catalog is not None and catalog.sandbox):
                add(
                    where,
                    f"'{ref}' resolves through the sandbox's demo catalog ({shown}) to "
                    f"voice_id '{sent}', which exists only in the sandbox: {REAL_CATALOG_HOWTO}",
                )
            elif _sandbox_only(sent):
                add(
                    where,
                    f"voice_id '{sent}' exists only in the sandbox; use a voice of your "
                    f"account's catalog: {REAL_CATALOG_HOWTO}",
                )
            elif isinstance(ref, int) and catalog is not None and voice is None:
                add(
                    where,
                    f"voice id {ref} is not in {shown}; it would be sent as the voice_id '{ref}'",
                    "warning",
                )
        for index, turn in enumerate(episode.overrides.get("script") or ()):
            voice_id = str(turn.get("voice_id") or "") if isinstance(turn, dict) else ""
            if _sandbox_only(voice_id):
                add(
                    ("overrides", "script", index, "voice_id"),
                    f"voice_id '{voice_id}' exists only in the sandbox: {REAL_CATALOG_HOWTO}",
                )
    return problems


def _sandbox_only(voice_id: str) -> bool:
    return voice_id.startswith(SANDBOX_VOICE_PREFIX)


class _Locator:
    """file, line, column of a field of an episode: in its spec, else in acbatch.yaml's
    `defaults:` when that is where the value came from."""

    def __init__(self, spec: Path, config: Path | None, defaults: dict[str, Any]) -> None:
        self.spec = spec
        self.config = config
        self.defaults = defaults
        self._documents: dict[Path, Any] = {}

    def _document(self, path: Path) -> Any:
        if path not in self._documents:
            from acbatch.project.yamlsafe import YamlError, read_yaml_file

            try:
                self._documents[path] = read_yaml_file(path)
            except YamlError:
                self._documents[path] = None
        return self._documents[path]

    def __call__(self, where: tuple[str | int, ...]) -> tuple[Path, int, int]:
        spec = self._document(self.spec)
        data = spec.data if spec is not None else None
        if isinstance(data, dict) and where[0] in data:
            line, column = spec.value_position(where)
            return self.spec, line, column
        if self.config is not None and where[0] in self.defaults:
            config = self._document(self.config)
            if config is not None:
                line, column = config.value_position(("defaults", *where))
                return self.config, line, column
        if spec is not None:
            return self.spec, *spec.value_position(where)
        return self.spec, 1, 1


# -- importing the account's catalog -----------------------------------------------------------


@dataclass(frozen=True)
class CatalogCheck:
    """What `check_catalog_document` found in a downloaded catalog."""

    catalog: VoiceCatalog
    warnings: list[str]

    def counts(self) -> dict[str, dict[str, int]]:
        """language -> gender text ('female', 'male', or 'unknown') -> number of voices."""
        table: dict[str, dict[str, int]] = {}
        for voice in self.catalog:
            gender = voice.gender_text.casefold() or "unknown"
            row = table.setdefault(voice.language or "unknown", {})
            row[gender] = row.get(gender, 0) + 1
        return dict(sorted(table.items()))


def check_catalog_document(document: Any, source: Path | None = None) -> CatalogCheck:
    """Check a catalog downloaded from the dashboard (the reference's section 5 format).

    Raises CatalogError for what makes it unusable (not that format, an error answer, no
    voices, ids missing or repeated, the sandbox's demo catalog); returns warnings for what
    only weakens it (unknown languages, voices without a voice_id or audio, repeated names).
    """
    from acbatch.codes import LANGUAGES, SUCCESS

    where = f"{source}: " if source else ""
    if isinstance(document, dict) and "code" in document and document.get("code") != SUCCESS:
        message = document.get("message") or "no message"
        raise CatalogError(
            f"{where}this is an error answer (code {document.get('code')}: {message}), not a "
            "voice catalog; log in to the audiocleaner.ai dashboard and download it again"
        )
    catalog = VoiceCatalog.from_document(document, source)
    if catalog.sandbox:
        raise CatalogError(
            f"{where}this is the sandbox's demo catalog, not your account's; "
            + REAL_CATALOG_HOWTO.replace(" and install it with `acbatch voices import FILE`", "")
        )
    if not catalog.voices:
        raise CatalogError(f"{where}the catalog has no voices (data.records is empty)")
    seen: dict[int, int] = {}
    for position, voice in enumerate(catalog.voices):
        if voice.id <= 0:
            raise CatalogError(f"{where}data.records[{position}].id must be a positive number")
        if voice.id in seen:
            raise CatalogError(
                f"{where}voice id {voice.id} appears twice (data.records[{seen[voice.id]}] and "
                f"data.records[{position}])"
            )
        seen[voice.id] = position
    warnings = []
    total = document["data"].get("total")
    if isinstance(total, int) and total != len(catalog.voices):
        warnings.append(
            f"data.total says {total} voices but data.records holds {len(catalog.voices)}: "
            "the download may be cut short"
        )
    unknown = sorted({v.language for v in catalog if v.language not in LANGUAGES})
    if unknown:
        listed = ", ".join(repr(language) for language in unknown)
        warnings.append(f"languages the API does not list: {listed}")
    silent = [v.id for v in catalog if not v.step2_voice_id]
    if silent:
        warnings.append(
            f"{len(silent)} voices have neither voice_id nor audio (e.g. id {silent[0]}): "
            "`overrides.voices` cannot use them"
        )
    names: dict[str, int] = {}
    for voice in catalog:
        for name in {voice.name.casefold(), voice.display_name.casefold()} - {""}:
            names[name] = names.get(name, 0) + 1
    repeated = sorted(name for name, count in names.items() if count > 1)
    if repeated:
        shown = ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else "")
        warnings.append(
            f"names used by more than one voice (a spec naming them gets the first): {shown}"
        )
    return CatalogCheck(catalog, warnings)


def import_catalog(source: Path, destination: Path) -> CatalogCheck:
    """Check the downloaded catalog at `source` and install it at `destination` (atomically).

    The document is written as downloaded (re-indented), so nothing of it is lost.
    """
    try:
        document = json.loads(source.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise CatalogError(f"{source}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{source}: not a readable JSON voice catalog ({exc})") from None
    checked = check_catalog_document(document, source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return CatalogCheck(VoiceCatalog(checked.catalog.voices, destination), checked.warnings)
