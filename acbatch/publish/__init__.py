"""Publishing: show notes, transcripts, chapters, ID3 tags, the RSS feed and a static site.

The runner calls render_show(config, episodes) with one PublishedEpisode per finished episode
(its MP3 already at output/episodes/<id>/<id>.mp3).

The names below are imported on first use, so that importing one submodule (the feed checker,
say) does not load the template engine and the MP3 tagger.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acbatch.publish.errors import (
        ArtworkError,
        AudioFileError,
        FeedCheckError,
        PublishError,
        ShowSettingsError,
        TemplateError,
    )
    from acbatch.publish.model import Highlight, PublishedEpisode, Turn
    from acbatch.publish.render import RenderReport, render_show

_HOMES = {
    "ArtworkError": "errors",
    "AudioFileError": "errors",
    "FeedCheckError": "errors",
    "PublishError": "errors",
    "ShowSettingsError": "errors",
    "TemplateError": "errors",
    "Highlight": "model",
    "PublishedEpisode": "model",
    "Turn": "model",
    "RenderReport": "render",
    "render_show": "render",
}

__all__ = [
    "ArtworkError",
    "AudioFileError",
    "FeedCheckError",
    "Highlight",
    "PublishError",
    "PublishedEpisode",
    "RenderReport",
    "ShowSettingsError",
    "TemplateError",
    "Turn",
    "render_show",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
