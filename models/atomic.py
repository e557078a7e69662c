"""Crash-safe file writes: the one place that writes a file whole or not at all.

:func:`atomic_path` writes a temporary file beside the target, flushes it to disk and renames it
over the target, so a process killed at any moment leaves either the old file or the new one.
It lives at the bottom of the import graph so that :mod:`models` (model files) and :mod:`nas`
(checkpoints, tables, plots, through :mod:`nas.atomic`) share it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path"]


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
