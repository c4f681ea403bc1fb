"""The cost ledger: every charge of every episode, and what is left of the show's budgets.

Charges are kept in each episode's state file (acbatch.runner.state.Charge), so the ledger
travels with the state in git. A budget in acbatch.yaml (`api.budget: {monthly: N, total: N}`)
is enforced across runs from it, exactly like `--max-credits` within a run: audio tasks created
but not yet charged count at the high end of their estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from acbatch.runner.state import Charge, EpisodeState, Phase, StateStore

# Audio tasks that may be billed but whose charge is not known yet.
_UNCHARGED_AUDIO = frozenset({Phase.AUDIO_SENDING, Phase.AUDIO_REQUESTED, Phase.AUDIO_READY})


@dataclass(frozen=True)
class Entry:
    episode: str
    charge: Charge

    @property
    def month(self) -> str:
        return self.charge.at[:7]


@dataclass(frozen=True)
class Ledger:
    entries: tuple[Entry, ...]
    committed: int
    """Credits of audio tasks created but not yet charged (their high estimate)."""

    def spent(self, month: str | None = None) -> int:
        return sum(e.charge.credits for e in self.entries if month is None or e.month == month)

    def by_episode(self, month: str | None = None) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entry in self.entries:
            if month is None or entry.month == month:
                totals[entry.episode] = totals.get(entry.episode, 0) + entry.charge.credits
        return totals

    def months(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for entry in self.entries:
            totals[entry.month or "unknown"] = totals.get(entry.month or "unknown", 0) + (
                entry.charge.credits
            )
        return dict(sorted(totals.items()))


def _uncharged(state: EpisodeState) -> bool:
    if state.phase in _UNCHARGED_AUDIO:
        return True
    return state.phase == Phase.UNCERTAIN and state.failed_step == "audio"


def ledger_of(states: Iterable[EpisodeState]) -> Ledger:
    entries: list[Entry] = []
    committed = 0
    counted: set[str] = set()
    # A state carried over to a language of a matrix (carried_to) is read last, and adds only
    # the charges the new episode's state does not hold (none, unless it was used again).
    for state in sorted(states, key=lambda state: state.carried_to is not None):
        fresh = [c for c in state.charges if not (state.carried_to and c.task in counted)]
        counted.update(charge.task for charge in fresh)
        entries.extend(Entry(state.id, charge) for charge in fresh)
        if _uncharged(state) and not state.carried_to:
            committed += state.credits_estimated
    entries.sort(key=lambda e: (e.charge.at, e.episode))
    return Ledger(tuple(entries), committed)


def read_ledger(store: StateStore) -> Ledger:
    return ledger_of(s for s in (store.load(i) for i in store.all_ids()) if s is not None)


def this_month(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m")


def budget_left(
    store: StateStore,
    *,
    max_credits: int | None,
    monthly: int | None,
    total: int | None,
    now: datetime | None = None,
) -> int | None:
    """Credits the run may still commit to: the tightest of the run's and the show's budgets."""
    limits = [] if max_credits is None else [max_credits]
    if monthly is not None or total is not None:
        ledger = read_ledger(store)
        if monthly is not None:
            limits.append(monthly - ledger.spent(this_month(now)) - ledger.committed)
        if total is not None:
            limits.append(total - ledger.spent() - ledger.committed)
    return max(0, min(limits)) if limits else None
