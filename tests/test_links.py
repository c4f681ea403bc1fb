"""Review scripts and state files are read only as plain files inside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from acbatch.project.loader import load_project
from acbatch.runner import review
from acbatch.runner.state import EpisodeState, StateStore
from acbatch.store import StoreError
from tests.conftest import text_episode, write_show


def test_a_linked_review_script_is_refused(tmp_path: Path) -> None:
    config = write_show(tmp_path / "show", {"ep-1": text_episode(1, review="required")})
    outside = tmp_path / "outside.yaml"
    outside.write_text("approved: true\n", encoding="utf-8")
    episode = load_project(config).episodes[0]
    episode.script_review_path.symlink_to(outside)
    with pytest.raises(review.ReviewError, match="symbolic link"):
        review.load_review(episode.script_review_path)


def test_a_linked_state_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    StateStore(outside).save(EpisodeState(id="ep-1"))
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "ep-1.json").symlink_to(outside / "ep-1.json")
    with pytest.raises(StoreError, match="symbolic link"):
        StateStore(folder).load("ep-1")
