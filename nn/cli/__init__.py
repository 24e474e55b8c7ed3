"""The command line, ``python -m nn``: ``commands`` (``train``, the parser and ``main``),
``options`` (the options ``train`` and ``sweep`` share, made from the table of settings),
``sweep`` (``python -m nn sweep``) and ``data_options`` (``--data FILE --label COLUMN`` for the
user's own table)."""
from nn.cli.commands import main

__all__ = ["main"]
