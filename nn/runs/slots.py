"""The server's budget: job slots and memory, for the whole server and for each client.

Streamlit runs every browser session as a thread of one server process, so a process-wide
ledger bounds the server's work. ``JOBS`` holds ``nn.hosting.limits()``: ``job_slots`` jobs
computing at once (NN_JOB_SLOTS, cores by default), ``budget_mb`` of memory for every visitor's
jobs and kept data together (NN_BUDGET_MB), and a client's share of both (NN_CLIENT_SLOTS,
NN_CLIENT_MB; a client is an address, all its tabs together). A job asks with a ``Need``
(its slots, its estimated bytes, its client) made from the decoded sizes *before* it starts:

    with JOBS.slot(Need(1, nbytes, client, "training")) as slot:   # BudgetRefused: can never fit
        if slot.acquire(should_stop=lambda: stopped, on_wait=show_place_in_line):
            train()

A job that fits waits in a first-come, first-served line; a client's job held back by its own
share does not hold back anyone else's. Data a session keeps (a table, a model) is counted with
``keep``, given back when its owner object is garbage (a closed session) or ``release``d.
A job always gives its place back however it ends (``with``: try/finally).

A long job takes turns: once it has held its place ``TURN_SECONDS`` while another client's job
waits that could start in its place (``Slot.turn_over``), it gives the place back and joins the
end of the line (a training run stops within a piece of work and goes on where it stopped), so
a link with 100,000 epochs opened in several tabs cannot keep honest visitors waiting for the
run's whole time limit.
"""
from __future__ import annotations

import itertools
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from nn.hosting import limits

MB = 2**20
TURN_SECONDS = 60.0          # a job's turn while other clients wait: an honest run usually ends within one


@dataclass(frozen=True)
class Need:
    """What one job asks of the budget."""
    slots: int = 1
    bytes: int = 0
    client: str = ""
    what: str = "job"


class BudgetRefused(ValueError):
    """A job or kept data that does not fit the budget; the message is for the visitor."""


def mb(nbytes: float) -> str:
    return f"{nbytes / MB:,.0f} MB" if nbytes >= MB else f"{nbytes / MB:.1f} MB"


@dataclass(frozen=True)
class Capacity:
    """Slots and bytes of the server, and of one client (None: no limit)."""
    slots: int
    bytes: int | None = None
    client_slots: int | None = None
    client_bytes: int | None = None
    job_bytes: int | None = None          # one job, at most


def server_capacity() -> Capacity:
    lim = limits()
    return Capacity(lim.job_slots, lim.budget_mb * MB, lim.client_slots, lim.client_mb * MB,
                    lim.max_job_mb * MB)


class RunSlots:
    """A ledger of running jobs, kept data, and a line of waiting jobs."""

    def __init__(self, capacity: Callable[[], int | Capacity]) -> None:
        self._capacity = capacity            # read when a job asks to start: a limit can change
        self._cond = threading.Condition()
        self._running: dict[int, Need] = {}
        self._waiting: list[int] = []
        self._gave_way: dict[str, float] = {}    # client -> when one of its jobs last gave way
        self._needs: dict[int, Need] = {}
        self._kept: dict[int, tuple[str, int]] = {}
        self._tickets = itertools.count(1)

    def cap(self) -> Capacity:
        c = self._capacity()
        return c if isinstance(c, Capacity) else Capacity(int(c))

    # --- jobs ---------------------------------------------------------------------------------
    def slot(self, need: Need | None = None) -> "Slot":
        """A place in line for ``need`` (BudgetRefused at once if it can never fit)."""
        need = need or Need()
        self.check(need)
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            self._needs[ticket] = need
        return Slot(self, ticket)

    def check(self, need: Need) -> None:
        """BudgetRefused, in plain words, if ``need`` exceeds the server or the client's share
        even when nothing else runs (its client's kept data counted)."""
        c = self.cap()
        what = need.what[:1].upper() + need.what[1:]
        if need.slots > c.slots or (c.client_slots is not None and need.slots > c.client_slots):
            most = min(c.slots, c.client_slots or c.slots)
            raise BudgetRefused(f"{what} needs {need.slots} job slots; this server gives a visitor "
                                f"at most {most} at once: use fewer workers.")
        if c.job_bytes is not None and need.bytes > c.job_bytes:
            raise BudgetRefused(f"{what} would need about {mb(need.bytes)} of memory; one job on "
                                f"this server may use at most {mb(c.job_bytes)}: make it smaller "
                                f"(a smaller network, batch or dataset, or fewer trials).")
        if c.bytes is not None and need.bytes > c.bytes:
            raise BudgetRefused(f"{what} would need about {mb(need.bytes)} of memory, more than this "
                                f"server's budget of {mb(c.bytes)}: make it smaller.")
        kept = self.kept_bytes(need.client)
        if c.client_bytes is not None and need.bytes + kept > c.client_bytes:
            held = f" (your open tabs already keep {mb(kept)} of data and models)" if kept else ""
            raise BudgetRefused(f"{what} would need about {mb(need.bytes)} of memory; a visitor's "
                                f"share on this server is {mb(c.client_bytes)}{held}: make it "
                                f"smaller, or reset models and tables in your other tabs.")

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def used(self, client: str | None = None) -> tuple[int, int]:
        """(slots, bytes) in use on the server, or by ``client``: running jobs and kept data."""
        with self._cond:
            jobs = [n for n in list(self._running.values()) if client is None or n.client == client]
            kept = sum(b for c, b in list(self._kept.values()) if client is None or c == client)
            return sum(n.slots for n in jobs), sum(n.bytes for n in jobs) + kept

    def kept_bytes(self, client: str | None = None) -> int:
        with self._cond:
            # a copy: a kept object's finalizer (``_forget``, run by the garbage collector in
            # this very thread, the lock being re-entrant) may drop an entry mid-sum
            return sum(b for c, b in list(self._kept.values()) if client is None or c == client)

    def _ahead(self, ticket: int) -> int:
        with self._cond:
            return self._waiting.index(ticket) if ticket in self._waiting else 0

    def _fits(self, need: Need, c: Capacity, reserved: tuple[int, int] = (0, 0)) -> bool:
        """Room for ``need`` on the server (beyond ``reserved``) and in its client's share."""
        slots, nbytes = self.used()
        if slots + reserved[0] + need.slots > c.slots:
            return False
        if c.bytes is not None and nbytes + reserved[1] + need.bytes > c.bytes:
            return False
        return self._client_fits(need, c)

    def _client_fits(self, need: Need, c: Capacity) -> bool:
        slots, nbytes = self.used(need.client)
        if c.client_slots is not None and slots + need.slots > c.client_slots:
            return False
        return c.client_bytes is None or nbytes + need.bytes <= c.client_bytes

    def _startable(self, ticket: int) -> bool:
        """First come, first served: earlier waiters that their client's share lets run keep
        their room; one held back by its own client's share does not hold back others; a client
        that has just given its place away (``Slot.give_way``) goes after every other client."""
        c, reserved = self.cap(), [0, 0]
        ready = [w for w in self._waiting if self._client_fits(self._needs[w], c)]
        prompt = [w for w in ready if not self._gave_way_lately(self._needs[w].client)]
        for earlier in prompt + [w for w in ready if w not in prompt]:
            if earlier == ticket:
                return self._fits(self._needs[ticket], c, (reserved[0], reserved[1]))
            need = self._needs[earlier]
            if self._client_fits(need, c):
                reserved[0] += need.slots
                reserved[1] += need.bytes
        return False

    def _try_start(self, ticket: int, timeout: float) -> bool:
        """Start ``ticket`` when it fits (waiting at most ``timeout`` seconds); True if it runs."""
        with self._cond:
            def startable() -> bool:
                return ticket in self._running or self._startable(ticket)
            if not self._cond.wait_for(startable, timeout):
                return False
            if ticket not in self._running:
                self._waiting.remove(ticket)
                self._running[ticket] = self._needs[ticket]
            return True

    def _gave_way_lately(self, client: str) -> bool:
        """One of ``client``'s jobs gave its place away within the last turn."""
        since = self._gave_way.get(client)
        return since is not None and time.monotonic() - since < TURN_SECONDS

    def _others_waiting(self, ticket: int) -> bool:
        """Another client's job waits that its own share lets run (so it could take this place)."""
        with self._cond:
            mine, c = self._needs.get(ticket, Need()).client, self.cap()
            return any(self._needs[w].client != mine and self._client_fits(self._needs[w], c)
                       for w in self._waiting)

    def _release(self, ticket: int) -> None:
        with self._cond:
            self._running.pop(ticket, None)
            self._needs.pop(ticket, None)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._cond.notify_all()

    # --- kept data ----------------------------------------------------------------------------
    def keep(self, owner: Any, client: str, nbytes: int, what: str = "this data") -> None:
        """Count ``nbytes`` that ``owner`` (an object a session keeps, weakly referenced) holds
        for ``client`` until ``release(owner)`` or ``owner`` is gone; replaces its earlier
        count. BudgetRefused (nothing counted) if the server or the client's share is full."""
        key, c = id(owner), self.cap()
        with self._cond:
            old = self._kept.pop(key, None)
            _, server = self.used()
            _, mine = self.used(client)
            full = None
            if c.client_bytes is not None and mine + nbytes > c.client_bytes:
                full = f"a visitor's share of {mb(c.client_bytes)} (your tabs hold {mb(mine)})"
            elif c.bytes is not None and server + nbytes > c.bytes:
                full = f"the server's budget of {mb(c.bytes)} ({mb(server)} in use)"
            if full:
                if old is not None:
                    self._kept[key] = old
                raise BudgetRefused(f"Keeping {what} ({mb(nbytes)}) would go over {full}: "
                                    f"reset models or tables in your other tabs, or use less data.")
            self._kept[key] = (client, int(nbytes))
            if old is None:
                weakref.finalize(owner, self._forget, key)
            self._cond.notify_all()

    def release(self, owner: Any) -> None:
        self._forget(id(owner))

    def _forget(self, key: int) -> None:
        with self._cond:
            self._kept.pop(key, None)
            self._cond.notify_all()


class Slot:
    """One job's place: waiting in line, then running, then released."""

    def __init__(self, pool: RunSlots, ticket: int) -> None:
        self.pool, self.ticket = pool, ticket
        self.released = False
        self.started: float | None = None      # time.monotonic() when the place was taken

    @property
    def ahead(self) -> int:
        """Jobs waiting in line before this one."""
        return self.pool._ahead(self.ticket)

    def acquire(self, should_stop: Callable[[], bool] = lambda: False,
                on_wait: Callable[[int], None] = lambda ahead: None, poll: float = 0.25) -> bool:
        """Wait for room; True once it is held. While waiting, call ``on_wait(jobs ahead)``
        every ``poll`` seconds (the page shows it: a click there can interrupt the wait) and
        give up, returning False, as soon as ``should_stop()`` is True."""
        timeout = 0.0                       # room now: start at once, without a message
        while not should_stop():
            if self.try_acquire(timeout):
                return True
            on_wait(self.ahead)
            timeout = poll
        return False

    def try_acquire(self, timeout: float = 0.0) -> bool:
        """Start if there is room within ``timeout`` seconds (no line to wait in); True if held."""
        held = self.pool._try_start(self.ticket, timeout)
        if held and self.started is None:
            self.started = time.monotonic()
        return held

    def turn_over(self, seconds: float | None = None) -> bool:
        """True once this place has been held ``seconds`` (``TURN_SECONDS``) while another
        client's job waits that could take it: the job should ``give_way`` and queue again."""
        turn = TURN_SECONDS if seconds is None else seconds
        return (self.started is not None and time.monotonic() - self.started >= turn
                and self.pool._others_waiting(self.ticket))

    def give_way(self) -> None:
        """Release at the end of a turn: this client's jobs now wait behind other clients'."""
        with self.pool._cond:
            client, now = self.pool._needs.get(self.ticket, Need()).client, time.monotonic()
            gave_way = self.pool._gave_way
            for old in [k for k, t in gave_way.items() if now - t >= TURN_SECONDS]:
                del gave_way[old]                   # bounded by the clients of the last turn
            gave_way[client] = now
        self.release()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool._release(self.ticket)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


JOBS = RunSlots(server_capacity)
TRAINING_SLOTS = JOBS                      # its earlier name
