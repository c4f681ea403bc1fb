"""The voice catalog: the documented voice-resource JSON, saved by the user as voices.json.

The API documents the format but no endpoint, so the catalog is a file. Specs may name voices
(`name` or `display_name`, case-insensitive) instead of numeric speaker ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
            gender_text=str(record.get("gender_text") or GENDERS.get(gender, "")),
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


@dataclass
class VoiceCatalog:
    voices: list[Voice] = field(default_factory=list)
    source: Path | None = None

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
        return cls(voices, source)

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
        return {
            "code": 100000,
            "data": {"total": len(self.voices), "records": [v.to_record() for v in self.voices]},
            "message": "Request Success",
        }

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


def merge(catalogs: Iterable[VoiceCatalog]) -> VoiceCatalog:
    seen: dict[int, Voice] = {}
    for catalog in catalogs:
        for voice in catalog:
            seen.setdefault(voice.id, voice)
    return VoiceCatalog(list(seen.values()))
