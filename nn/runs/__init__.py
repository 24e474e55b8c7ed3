"""Runs as the CLI and the app set them up: ``config`` (a run's settings and their checks),
``presets``, ``experiment`` (data, model and trainer for a config), ``slots`` (the server's
training queue) and ``app_state`` (one browser session's training)."""
