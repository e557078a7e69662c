"""Crash-safe file writes: the one place that writes a file whole or not at all.

Every writer of the toolkit (checkpoints, tables, model files, plots, pseudo-labels) goes through
:func:`atomic_path`: it writes a temporary file beside the target, flushes it to disk and renames
it over the target, so a run killed at any moment leaves either the old file or the new one.
:func:`append_line` is the journal's counterpart: one whole line, flushed, per finished event.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_text", "append_line"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so savers that look at it work) and
    move it over ``path`` when the block succeeds; on an error the target is untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)  # the rename itself survives a power cut
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


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
