"""The sweep's worker processes among this test run's descendants, for the tests that check
that they end."""
from __future__ import annotations

import psutil


def sweep_workers() -> list[psutil.Process]:
    """Descendants running ``python -m nn.sweep.worker``, living ones only: a worker that has
    ended but is not yet reaped by its parent (a zombie) or is gone meanwhile is left out."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "nn.sweep.worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:                 # ZombieProcess is one too
            pass
    return found
