"""Logs of a long run into files that rotate: a charger runs for months, its log must not grow for ever."""

from __future__ import annotations

import logging
import logging.handlers
import os

__all__ = ["DEFAULT_BACKUPS", "DEFAULT_MAX_BYTES", "log_to_file"]

#: size of one log file before it is rotated, and how many rotated files are kept (60 MB in all)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5


def log_to_file(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS,
                level: int = logging.INFO, logger: str = "v2gkit") -> logging.Handler:
    """Send ``logger``'s records at ``level`` and above to ``path``; at ``max_bytes`` the file becomes
    ``path.1`` (``path.1`` becomes ``path.2``...) and the oldest of ``backups`` goes. Returns the handler
    (remove it from the logger and close it to stop)."""
    if max_bytes < 1 or backups < 1:
        raise ValueError(f"max_bytes and backups must be >= 1, got {max_bytes}, {backups}")
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    log = logging.getLogger(logger)
    log.addHandler(handler)
    if log.getEffectiveLevel() > level:
        log.setLevel(level)
    return handler
