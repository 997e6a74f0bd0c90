"""Logging set-up: one logger tree under ``kalshi_lake``, quiet by default, to stderr."""

from __future__ import annotations

import logging
import os

LOGGER_NAME = "kalshi_lake"


def get_logger(name: str) -> logging.Logger:
    """The module logger, a child of the ``kalshi_lake`` logger."""
    if not name.startswith(LOGGER_NAME):
        name = f"{LOGGER_NAME}.{name}"
    return logging.getLogger(name)


def configure(verbosity: int = 0) -> None:
    """Send kalshi_lake logs to stderr: WARNING by default, INFO with -v, DEBUG with -vv.

    ``KALSHI_LOG_LEVEL`` overrides the level (e.g. ``DEBUG``).
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    env_level = os.environ.get("KALSHI_LOG_LEVEL")
    if env_level:
        level = (
            logging.getLevelName(env_level.upper())
            if isinstance(logging.getLevelName(env_level.upper()), int)
            else level
        )
    root = logging.getLogger(LOGGER_NAME)
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.propagate = False
