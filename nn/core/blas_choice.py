"""One BLAS thread or its own setting: chosen by timing training steps with each, re-checked now
and then.

A threaded matrix product waits for its slowest thread. On a quiet machine two threads share
the product; on a busy one (other processes on the same cores) the second thread is often not
running, and every product waits for it to be scheduled again: measured on 2 cores at load
average 4-8, 784-256-10 at batch 128 took 6-10 s an epoch with two BLAS threads and 0.8-1.2 s
with one. Neither setting is right everywhere, and the load changes while a run trains, so the
trainer times its steps under each: ``PROBE_STEPS`` steps of the other setting after
``interval`` steps of the current one; the faster by median step time is kept, and each time
the choice holds, the next check comes twice as late (up to ``LONGEST_INTERVAL``), so that on a
steady machine the checks cost little (16 slower steps in 8,000 at most). A check ends early
once its steps have taken as long as ``PROBE_STEPS`` steps of the current setting: a step with
two threads on a busy machine can take 30x one with one thread, and 16 of them would cost more
than the check can save.

OpenBLAS rounds a product differently on one thread and on two (a 128x784 by 784x256 product
differs in the last bit of some values), so a run that switches is the same run to float
rounding, not bit for bit: as the app's runs already were when two sessions trained at once.

The hold on one thread goes through ``nn.core.blas_threads.one_blas_thread`` (its counts: a
small network or several runs at once keep one thread whatever this chooses).
"""
from __future__ import annotations

import statistics
from contextlib import AbstractContextManager
from typing import Any

from nn.core.blas_threads import one_blas_thread

PROBE_STEPS = 16            # steps timed under the other setting, and compared with as many of the current
FIRST_INTERVAL = 64         # steps of the current setting before the first check (and after a change)
LONGEST_INTERVAL = 8192


class BlasChoice:
    """Times steps (``timed``) and switches between one BLAS thread and the default when the
    other is faster. Use as a context manager around a stretch of steps: the hold on one thread
    is taken inside it only (the caller's own work between stretches is not training).
    ``active`` False (one thread anyway: a small network, one core): never switches."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.one = False                     # the setting in force: one thread (True) or the default
        self._chosen = False                 # the setting kept between checks
        self._interval = FIRST_INTERVAL
        self._left = PROBE_STEPS             # steps before the next phase change (the first check: soon)
        self._kept: list[float] = []         # the latest step times under the chosen setting
        self._probe: list[float] = []        # step times under the other one, during a check
        self._hold: AbstractContextManager[None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_hold": None}     # a hold is of this process, between steps only

    def __enter__(self) -> "BlasChoice":
        self._apply()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    @property
    def probing(self) -> bool:
        return self.one != self._chosen

    def timed(self, seconds: float) -> None:
        """One step took ``seconds`` under the setting in force; switch if a phase ends."""
        if not self.active:
            return
        times = self._probe if self.probing else self._kept
        times.append(seconds)
        del times[:-PROBE_STEPS]
        self._left -= 1
        if self._left > 0 and not (self.probing and self._probe_too_slow()):
            return
        if self.probing:
            self._decide()
        else:                                # check the other setting
            self.one, self._probe, self._left = not self._chosen, [], PROBE_STEPS
        self._apply()

    def _probe_too_slow(self) -> bool:
        return sum(self._probe) > PROBE_STEPS * statistics.median(self._kept)

    def _decide(self) -> None:
        """After a check: keep the faster setting; a confirmed choice is checked half as often."""
        if statistics.median(self._probe) < statistics.median(self._kept):
            self._chosen, self._kept, self._interval = self.one, self._probe, FIRST_INTERVAL
        else:
            self.one, self._interval = self._chosen, min(2 * self._interval, LONGEST_INTERVAL)
        self._left = self._interval

    def _apply(self) -> None:
        if self.one and self._hold is None:
            self._hold = one_blas_thread()
            self._hold.__enter__()
        elif not self.one:
            self._release()

    def _release(self) -> None:
        if self._hold is not None:
            hold, self._hold = self._hold, None
            hold.__exit__(None, None, None)
