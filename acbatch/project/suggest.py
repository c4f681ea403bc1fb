"""'Did you mean ...?' for misspelt keys and enum values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[object], cutoff: float = 0.6) -> str | None:
    """The closest choice to `word`, or None when nothing is close enough.

    A choice that differs only in case or in '-' versus '_' always wins (`Interview`,
    `episode-type`); otherwise difflib's similarity ratio must reach `cutoff`.
    """
    if not isinstance(word, str) or not word:
        return None
    options = [str(choice) for choice in choices if isinstance(choice, (str, int))]
    folded = _fold(word)
    for option in options:
        if _fold(option) == folded and option != word:
            return option
    lowered: dict[str, str] = {}
    for option in options:
        lowered.setdefault(option.lower(), option)
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    if not matches or lowered[matches[0]] == word:
        return None
    return lowered[matches[0]]


def _fold(text: str) -> str:
    return text.casefold().replace("_", "-").strip()
