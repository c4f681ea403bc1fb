"""Typed publishing errors: each is a UserError with one clear message and exit code 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from acbatch.errors import UserError
from acbatch.wording import plural

if TYPE_CHECKING:
    from acbatch.publish.feedcheck import FeedProblem


class PublishError(UserError):
    """Rendering the show's outputs failed for a reason the user or the project can fix."""


class ShowSettingsError(PublishError):
    """A show setting in acbatch.yaml cannot be published (category, guid, base_url)."""


class ArtworkError(PublishError):
    """The show or episode image is missing, unreadable or not a JPEG/PNG."""


class AudioFileError(PublishError):
    """An episode's MP3 is missing, outside the output folder, or unreadable."""


class TemplateError(PublishError):
    """A template (built-in or the project's override) failed to load or render."""


class FeedCheckError(PublishError):
    """The feed has at least one error; `problems` holds every problem found."""

    def __init__(
        self, source: str, problems: Sequence[FeedProblem], hints: Sequence[str] = ()
    ) -> None:
        self.source = source
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{source}: feed check found {plural(len(errors), 'error')}:"]
        lines += [f"  {p}" for p in self.problems]
        lines += [f"  to fix: {hint}" for hint in hints]
        super().__init__("\n".join(lines))
