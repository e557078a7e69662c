"""Crash-safe file writes: the one place that writes a file whole or not at all.

Every writer of the toolkit (checkpoints, tables, model files, plots, pseudo-labels) goes through
:func:`atomic_path` (defined in :mod:`models.atomic`, below everything, so that model files share
it): it writes a temporary file beside the target, flushes it to disk and renames it over the
target, so a run killed at any moment leaves either the old file or the new one.
:func:`append_line` is the journal's counterpart: one whole line, flushed, per finished event.
"""

from __future__ import annotations

import os

from models.atomic import atomic_path

__all__ = ["atomic_path", "atomic_write_text", "append_line"]


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line (no newline inside) and flush it to disk before returning."""
    if "\n" in line:
        raise ValueError("a journal line must not contain a newline")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
