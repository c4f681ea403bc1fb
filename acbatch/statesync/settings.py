"""The `state:` section of acbatch.yaml, with the schema's defaults and the environment's word."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acbatch.errors import ConfigError
from acbatch.project import schema
from acbatch.project.yamlsafe import YamlError, read_yaml_file

BACKEND_ENV = "ACBATCH_STATE_BACKEND"
BACKENDS = ("local", "git")


@dataclass(frozen=True)
class GitSettings:
    remote: str
    branch: str | None
    """None: the branch that is checked out."""
    push_interval: float
    lock_wait: float
    lock_stale_after: float


@dataclass(frozen=True)
class StateSettings:
    backend: str
    git: GitSettings


def read_state_settings(config_path: Path) -> StateSettings:
    """The state settings of the project whose (already validated) acbatch.yaml is given."""
    section: Any = None
    try:
        data = read_yaml_file(config_path).data
    except YamlError:
        data = None
    if isinstance(data, dict):
        section = data.get("state")
    filled = schema.fill_defaults(
        {"state": section if isinstance(section, dict) else {}}, schema.SHOW
    )
    state = filled["state"]
    git = state["git"]
    backend = os.environ.get(BACKEND_ENV, "").strip() or state["backend"]
    if backend not in BACKENDS:
        raise ConfigError(
            f"{BACKEND_ENV}={backend!r} is not a state backend; use one of {', '.join(BACKENDS)}"
        )
    return StateSettings(
        backend=backend,
        git=GitSettings(
            remote=git["remote"],
            branch=git.get("branch"),
            push_interval=float(git["push_interval"]),
            lock_wait=float(git["lock_wait"]),
            lock_stale_after=float(git["lock_stale_after"]),
        ),
    )
