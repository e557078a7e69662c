"""Figures for people who would rather look than read: one way to make and save them."""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_path

__all__ = ["new_figure", "save_png", "median_band"]


def new_figure(width: float = 6, height: float = 4, ncols: int = 1):
    """A matplotlib (figure, axes) on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height))


def save_png(fig, path: str | Path, dpi: int = 100) -> None:
    """Lay out, write atomically as PNG (a killed run never leaves half a file), and close."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def median_band(ax, x, curves, label: str) -> None:
    """The median of ``curves`` (one row per run; NaN ignored) with its inter-quartile band."""
    import numpy as np

    q1, median, q3 = np.nanpercentile(np.asarray(curves, dtype=float), [25, 50, 75], axis=0)
    ax.plot(x, median, label=label)
    ax.fill_between(x, q1, q3, alpha=0.2)
