"""A circuit breaker per endpoint, shared by every pool and question of the process.

A dead server stays skipped across questions instead of costing each one a connect timeout;
after a cool-down one probe goes through, and a success closes the breaker again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from compliance_auditor import config


@dataclass
class Breaker:
    """Opens after `threshold` consecutive failures (at once for a refused connection or a stall)."""

    threshold: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        """Closed, or open long enough that one probe may go through (half-open)."""
        return self.opened_at is None or now - self.opened_at >= self.cooldown_s

    def succeed(self) -> None:
        self.failures, self.opened_at = 0, None

    def fail(self, now: float, fatal: bool = False) -> None:
        self.failures += 1
        if fatal or self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = now  # a failed half-open probe re-opens it for another cool-down

    @property
    def state(self) -> str:
        return "closed" if self.opened_at is None else "open"


_BREAKERS: dict[str, Breaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(url: str, settings: config.Settings) -> Breaker:
    """Breakers outlive one question: a dead server stays skipped across questions."""
    with _BREAKERS_LOCK:
        if url not in _BREAKERS:
            _BREAKERS[url] = Breaker(settings.llm_breaker_threshold, settings.llm_breaker_cooldown_s)
        return _BREAKERS[url]


def reset_breakers() -> None:
    """Forget every endpoint's failures: the next call tries them all again."""
    with _BREAKERS_LOCK:
        _BREAKERS.clear()
