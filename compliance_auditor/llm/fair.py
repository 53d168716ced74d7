"""Fair turns at the model: at most so many calls in flight, and the waiting calls served one
asker at a time, in turn.

A model server serves a few requests at once (llama-server's `-np` slots, one on a Mac's
mlx_lm.server) and queues the rest first come, first served: a procedure run asking eight cells
at once, or one analyst with many tabs, would put everyone else behind all of its calls. So the
pool keeps no more calls in flight than the servers serve, and keeps the rest here: when a slot
frees, the asker with the fewest calls in flight goes next, and among equals the one served
longest ago (round robin), each asker's own calls in the order they came.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Asker:
    waiting: deque[int] = field(default_factory=deque)
    """Tickets of this asker's calls waiting for a slot, oldest first."""
    in_flight: int = 0
    """Calls of this asker at the model now."""
    last_served: int = -1
    """When (on the gate's ticket clock) a call of this asker last got a slot."""


class FairGate:
    """At most `slots` calls at once (0: no limit), the waiting ones served askers in turn."""

    def __init__(self, slots: int = 0) -> None:
        self._slots = slots
        self._running = 0
        self._askers: dict[str, _Asker] = {}
        self._clock = itertools.count()
        self._changed = threading.Condition()

    @property
    def slots(self) -> int:
        return self._slots

    def resize(self, slots: int) -> None:
        """Change the number of slots (learned from the server after the gate was made)."""
        with self._changed:
            self._slots = slots
            self._changed.notify_all()

    def waiting(self) -> dict[str, int]:
        """Calls waiting for a slot, by asker (for the status line and the tests)."""
        with self._changed:
            return {name: len(a.waiting) for name, a in self._askers.items() if a.waiting}

    @contextmanager
    def turn(self, asker: str) -> Iterator[None]:
        """Hold a slot for one call of `asker`, waiting for its turn when all are taken."""
        with self._changed:
            entry = self._askers.setdefault(asker, _Asker())
            ticket = next(self._clock)
            entry.waiting.append(ticket)
            while not self._is_next(ticket):
                self._changed.wait()
            entry.waiting.popleft()
            entry.in_flight += 1
            entry.last_served = next(self._clock)
            self._running += 1
            self._changed.notify_all()  # the next in line may also fit
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                entry.in_flight -= 1
                if not entry.in_flight and not entry.waiting:
                    del self._askers[asker]
                self._changed.notify_all()

    def _is_next(self, ticket: int) -> bool:
        if self._slots and self._running >= self._slots:
            return False
        heads = [(a.in_flight, a.last_served, a.waiting[0]) for a in self._askers.values() if a.waiting]
        return min(heads)[2] == ticket
