"""What every command shares: where the project is, how chatty to be, and loading it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from acbatch.constants import CONFIG_NAME
from acbatch.project.model import Project


@dataclass
class Context:
    project_dir: str | None = None
    verbosity: int = 0
    _project: Project | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return Path(self.project_dir or ".").resolve()

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            print(message, file=sys.stderr)

    def load_project(self) -> Project:
        """Load and validate the project (schemas, cross-file checks); errors are in .problems.

        Unchanged valid specs come from the spec cache in the cache folder (.acbatch/).
        """
        if self._project is None:
            from acbatch.project.loader import load_project

            self._project = load_project(self.config_path, cache=True)
        return self._project
