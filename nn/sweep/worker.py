"""A sweep worker process: ``python -m nn.sweep.worker FD``, started by ``nn.sweep.pool``.

Its own module, which the package does not import: run as ``-m nn.sweep.pool``, the pool module
was first imported with the package (``nn.sweep`` -> run_local -> pool) and then run a second time
as ``__main__``, which Python warned about in every worker."""
import sys

from nn.sweep.pool import worker_main

if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
