"""Seeded fault injection for the sandbox.

Decisions are a pure function of (seed, fault, endpoint, request digest, attempt number), so a
test sees the same faults on every run whatever order its threads happen to send requests in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from acbatch import codes

# Names accepted by `acbatch sandbox --fault NAME=P` besides the numeric API codes.
FAULT_NAMES = ("5xx", "drop_before", "drop_after", "fail_task", "latency")


@dataclass(frozen=True)
class FaultPlan:
    error_rates: dict[int, float] = field(default_factory=dict)
    """API code -> probability that a request is answered with it instead of being served."""
    http_5xx: float = 0.0
    """Probability of an HTTP 503 before the request is acted on."""
    drop_before: float = 0.0
    """Creates: probability the connection closes before the create takes effect."""
    drop_after: float = 0.0
    """Creates: probability the create takes effect, then the connection closes unanswered."""
    fail_task: float = 0.0
    """Probability a created task ends `failed`."""
    latency: float = 0.0
    """Probability of a latency spike of `latency_seconds` before a request is handled."""
    latency_seconds: float = 1.0
    endpoints: tuple[str, ...] = codes.ENDPOINTS
    """Endpoints that error codes, 5xx and latency apply to."""
    seed: int = 0

    def roll(self, fault: str, endpoint: str, digest: str, attempt: int) -> float:
        """A uniform number in [0, 1) fixed by the seed and the request's identity."""
        material = f"{self.seed}|{fault}|{endpoint}|{digest}|{attempt}".encode()
        return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big") / 2**64

    def hits(self, fault: str, rate: float, endpoint: str, digest: str, attempt: int) -> bool:
        return rate > 0 and self.roll(fault, endpoint, digest, attempt) < rate

    def with_updates(self, **changes: object) -> FaultPlan:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_fault(spec: str, plan: FaultPlan) -> FaultPlan:
    """`101003=0.1`, `5xx=0.05`, `drop_before=0.1`, `latency=0.2:1.5` (rate:seconds)."""
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError(f"expected NAME=PROBABILITY, got {spec!r}")
    seconds: float | None = None
    if name == "latency" and ":" in value:
        value, _, raw_seconds = value.partition(":")
        seconds = float(raw_seconds)
    rate = float(value)
    if not 0 <= rate <= 1:
        raise ValueError(f"probability for {name} must be between 0 and 1, got {rate}")
    if name.isdigit():
        code = int(name)
        if code not in codes.RESPONSE_CODES or code == codes.SUCCESS:
            raise ValueError(f"{code} is not a documented error code")
        return plan.with_updates(error_rates={**plan.error_rates, code: rate})
    if name == "5xx":
        return plan.with_updates(http_5xx=rate)
    if name == "latency":
        return plan.with_updates(
            latency=rate, latency_seconds=seconds if seconds is not None else plan.latency_seconds
        )
    if name in ("drop_before", "drop_after", "fail_task"):
        return plan.with_updates(**{name: rate})
    known = ", ".join((*FAULT_NAMES, "<api code>"))
    raise ValueError(f"unknown fault {name!r} (known: {known})")
