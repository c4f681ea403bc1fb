"""Publishing: show notes, transcripts, chapters, ID3 tags, the RSS feed and a static site.

The runner calls render_show(config, episodes) with one PublishedEpisode per finished episode
(its MP3 already at output/episodes/<id>/<id>.mp3).
"""

from __future__ import annotations

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
