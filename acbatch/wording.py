"""How acbatch counts things in its messages, in one place."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 episode`, `2 episodes`; `many` for irregular plurals."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
