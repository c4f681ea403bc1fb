"""Named crash points for the crash-safety tests.

Setting ACBATCH_FAILPOINT=<name> (optionally <name>:<n> for the n-th time it is reached) makes the
process kill itself with SIGKILL at that point, exactly as a power cut or an OOM kill would. The
names mark the moments that matter for "never lose, never pay twice", e.g. `after_create`: the
create was answered, its task id is not saved yet.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "ACBATCH_FAILPOINT"
NAMES = (
    "before_create",
    "after_create",
    "after_poll",
    "mid_download",
    "after_download",
)
CARRY_NAMES = (
    "before_carry_save",
    "after_carry_save",
)
"""The moments of carrying a state over to a language of a new matrix (Runner._carry_over):
the audio and review file in place, the state not saved under its new id yet; saved, the former
state not marked yet. Apart from NAMES, which every show reaches."""

_lock = threading.Lock()
_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
