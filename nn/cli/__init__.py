"""The command line, ``python -m nn``: ``commands`` (train, presets, the sweep's entry) and
``data_options`` (``--data FILE --label COLUMN`` for the user's own table)."""
from nn.cli.commands import main

__all__ = ["main"]
