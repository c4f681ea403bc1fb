"""Model objects filled from the JSON Schemas' defaults: the one way code gets a default value.

The dataclasses in acbatch.project.model declare no default a schema gives (the loader fills
documents from the schemas). Code that needs one without a loaded project, such as an API
client made by hand, a fetch with no acbatch.yaml, or a test's sample show, builds it here.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, TypeVar

from acbatch.project.model import ApiSettings, Episode, Polling, Publish, ShowInfo, Timeouts
from acbatch.project.schema import EPISODE, SHOW, field_default, load_schema, resolve_ref

T = TypeVar("T")

SCHEMA_PLACES: dict[type, tuple[str, ...]] = {
    ShowInfo: (SHOW, "show"),
    ApiSettings: (SHOW, "api"),
    Timeouts: (SHOW, "api", "timeouts"),
    Polling: (SHOW, "api", "polling"),
    Episode: (EPISODE,),
    Publish: (EPISODE, "publish"),
}
"""Where each model class's fields are declared: the schema, then the path of its object."""

RENAMED_FIELDS: dict[type, dict[str, tuple[str, ...]]] = {
    ApiSettings: {"budget_monthly": ("budget", "monthly"), "budget_total": ("budget", "total")},
    Episode: {"duration_level": ("duration",)},
}
"""Fields named differently from their schema property (the path under the class's object)."""

DERIVED_FIELDS: dict[type, frozenset[str]] = {
    Episode: frozenset(
        {
            "spec_path",
            "speaker_ids",
            "raw",
            "review_folder",
            # One language of a language matrix: worked out from `languages` and the id.
            "spec_id",
            "matrix",
            "output_language",
        }
    ),
}
"""Fields that are not written in a document: worked out by the loader."""


def schema_path(cls: type, name: str) -> tuple[str, ...]:
    """The schema kind and property path of field `name` of model class `cls`."""
    return SCHEMA_PLACES[cls] + RENAMED_FIELDS.get(cls, {}).get(name, (name,))


def schema_property(cls: type, name: str) -> dict[str, Any] | None:
    """The schema's declaration of a field (None when the schema has no such property)."""
    kind, *path = schema_path(cls, name)
    root = load_schema(kind)
    node: dict[str, Any] = root
    for part in path:
        properties = resolve_ref(root, node).get("properties", {})
        if part not in properties:
            return None
        node = properties[part]
    return resolve_ref(root, node)


def build(cls: type[T], **values: Any) -> T:
    """A `cls` with `values`, every other field the schema has a default for filled from it.

    A field holding another schema-backed class (ApiSettings.timeouts) is built the same way.
    """
    nested = {place: made for made, place in SCHEMA_PLACES.items()}
    filled = dict(values)
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in filled:
            continue
        path = schema_path(cls, item.name)
        if path in nested:
            filled[item.name] = build(nested[path])
            continue
        default = field_default(*path)
        if default is not None:
            filled[item.name] = tuple(default) if isinstance(default, list) else default
    return cls(**filled)


@cache
def api_defaults() -> ApiSettings:
    """acbatch.yaml's `api:` settings when it sets none."""
    return build(ApiSettings)
