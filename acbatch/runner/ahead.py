"""Rendering each finished episode during the run, so that the run's render has less to do."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from acbatch.project.model import Episode, Project
from acbatch.runner.state import EpisodeState

if TYPE_CHECKING:
    from acbatch.publish.render import EpisodesAhead


class RenderAhead:
    """During a run, each finished episode's own outputs are rendered on a thread of their
    own (acbatch.publish.render.EpisodesAhead) while the run waits on other tasks: the run's
    render then only assembles the feed and the site.

    Only an optimisation: an episode it could not render (a template error, a show setting)
    is left to the render, which reports the problem. A show published per language is left
    to the render too (an episode's notes link its other languages, known only then).
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cancelled = False
        self._work: queue.SimpleQueue[tuple[Episode, EpisodeState] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, episode: Episode, state: EpisodeState) -> None:
        """Render `episode` ahead (called by the run's workers; returns at once)."""
        if episode.draft:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="render-ahead")
                self._thread.daemon = True
                self._thread.start()
        self._work.put((episode, state))

    def finish(self, *, cancel: bool = False) -> None:
        """Wait for what was submitted (or, with `cancel`, only for the episode under way)."""
        self.cancelled = cancel
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._work.put(None)
            thread.join()

    def _serve(self) -> None:
        # Imported here: the run's first creates need not wait for the publishing code.
        from acbatch.publish.render import EpisodesAhead
        from acbatch.runner.published import (
            catalog_of,
            published_audio,
            published_episode,
            show_hosts,
        )

        ahead: EpisodesAhead | None = None
        catalog = None
        usable = True
        try:
            while (item := self._work.get()) is not None:
                episode, state = item
                if self.cancelled or not usable or published_audio(state) is None:
                    continue
                try:
                    if ahead is None:
                        catalog = catalog_of(self.project)
                        hosts = show_hosts(self.project.config.show, catalog)
                        ahead = EpisodesAhead(self.project.config, hosts=hosts)
                    ahead.render(published_episode(self.project, episode, state, catalog))
                except Exception:  # the render does it again, and reports what is wrong
                    usable = ahead is not None  # a show it cannot set up is left to the render
        finally:
            if ahead is not None:
                ahead.close()
