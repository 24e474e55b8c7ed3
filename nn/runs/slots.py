"""Training slots: at most N training runs at once in this process, the others wait in line.

Streamlit runs every browser session as a thread of one server process, so a process-wide
counter bounds the server's training work: ``TRAINING_SLOTS`` admits
``nn.hosting.limits().max_training_runs`` runs (NN_MAX_TRAINING_RUNS) and queues the rest in
arrival order. A run holds its ``Slot`` in a ``with`` block (try/finally), so a run that ends,
is stopped or is interrupted (its session gone) always gives its place back.

    with TRAINING_SLOTS.slot() as slot:
        if slot.acquire(should_stop=lambda: stopped, on_wait=show_place_in_line):
            train()
"""
from __future__ import annotations

import itertools
import threading
from typing import Callable

from nn.hosting import limits


class RunSlots:
    """A counter of running runs and a first-come, first-served line of waiting ones."""

    def __init__(self, capacity: Callable[[], int]) -> None:
        self._capacity = capacity            # read when a run asks to start: a limit can change
        self._cond = threading.Condition()
        self._running: set[int] = set()
        self._waiting: list[int] = []
        self._tickets = itertools.count(1)

    def slot(self) -> "Slot":
        """A place in line (leave it with ``release`` or a ``with`` block)."""
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
        return Slot(self, ticket)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _ahead(self, ticket: int) -> int:
        with self._cond:
            return self._waiting.index(ticket) if ticket in self._waiting else 0

    def _try_start(self, ticket: int, timeout: float) -> bool:
        """Start ``ticket`` when a slot is free and no earlier arrival waits for it (waiting at
        most ``timeout`` seconds); True if it runs."""
        with self._cond:
            def startable() -> bool:
                free = self._capacity() - len(self._running)
                return ticket in self._running or self._waiting.index(ticket) < free
            if not self._cond.wait_for(startable, timeout):
                return False
            if ticket not in self._running:
                self._waiting.remove(ticket)
                self._running.add(ticket)
            return True

    def _release(self, ticket: int) -> None:
        with self._cond:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._cond.notify_all()


class Slot:
    """One run's place: waiting in line, then running, then released."""

    def __init__(self, pool: RunSlots, ticket: int) -> None:
        self.pool, self.ticket = pool, ticket
        self.released = False

    @property
    def ahead(self) -> int:
        """Runs waiting in line before this one."""
        return self.pool._ahead(self.ticket)

    def acquire(self, should_stop: Callable[[], bool] = lambda: False,
                on_wait: Callable[[int], None] = lambda ahead: None, poll: float = 0.25) -> bool:
        """Wait for a slot; True once it is held. While waiting, call ``on_wait(runs ahead)``
        every ``poll`` seconds (the page shows it: a click there can interrupt the wait) and
        give up, returning False, as soon as ``should_stop()`` is True."""
        timeout = 0.0                       # a free slot: start at once, without a message
        while not should_stop():
            if self.pool._try_start(self.ticket, timeout):
                return True
            on_wait(self.ahead)
            timeout = poll
        return False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool._release(self.ticket)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


TRAINING_SLOTS = RunSlots(lambda: limits().max_training_runs)
