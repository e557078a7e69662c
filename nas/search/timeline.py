"""Where and when each training ran: the slots' utilization and a Gantt chart (timeline.png).

A training is *placed* when its result holds its slot, start and end
(:attr:`~nas.search.result.CandidateResult.placed`); anything else (a cached candidate, a
surrogate's score) has no place on the timeline. A slot is one of the run's parallel places
(Ray Tune's concurrent trials, a simulated cluster's slots): its utilization is the time its
trainings ran over the time from the first start to the last end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..plotting import new_figure, save_png
from .result import Evaluation

__all__ = ["Interval", "intervals", "utilization", "plot_timeline", "utilization_line"]


@dataclass(frozen=True)
class Interval:
    """One placed training."""

    key: str
    slot: int
    started: float
    ended: float
    status: str
    generation: int


def intervals(evaluations: Iterable[Evaluation]) -> list[Interval]:
    """The placed trainings, by start time."""
    placed = [
        Interval(
            e.key, e.result.slot, e.result.started, e.result.ended, e.result.status, e.generation
        )
        for e in evaluations
        if e.result.placed
    ]
    return sorted(placed, key=lambda i: (i.started, i.slot))


def utilization(evaluations: Iterable[Evaluation], slots: int | None = None) -> float | None:
    """Busy slot-time over ``slots`` (default: the slots seen) times the span from the first
    start to the last end; None when nothing was placed."""
    return _share(intervals(evaluations), slots)


def _share(placed: list[Interval], slots: int | None) -> float | None:
    if not placed:
        return None
    slots = slots or len({i.slot for i in placed})
    span = max(i.ended for i in placed) - min(i.started for i in placed)
    busy = sum(i.ended - i.started for i in placed)
    return busy / (slots * span) if span > 0 else 1.0


def utilization_line(evaluations: Iterable[Evaluation], slots: int | None = None) -> str:
    """One line for the end of a search: trainings, slots, span and utilization."""
    placed = intervals(evaluations)
    if not placed:
        return "slot utilization: no placed trainings"
    used = slots or len({i.slot for i in placed})
    span = max(i.ended for i in placed) - min(i.started for i in placed)
    return (
        f"slot utilization {_share(placed, used):.1%}: {len(placed)} trainings on {used} slots "
        f"over {span:.0f} s"
    )


def plot_timeline(evaluations: Iterable[Evaluation], path: Path, title: str = "") -> bool:
    """Draw the Gantt chart of the placed trainings (one row per slot, time from the first
    start; colour by status); returns False (and draws nothing) when nothing was placed."""
    placed = intervals(evaluations)
    if not placed:
        return False
    origin = min(i.started for i in placed)
    slots = sorted({i.slot for i in placed})
    row = {slot: n for n, slot in enumerate(slots)}
    fig, ax = new_figure(8, max(2.5, min(12, 0.25 * len(slots) + 1.5)))
    colours = {"ok": "tab:blue", "stopped": "tab:orange", "failed": "tab:red"}
    for status, colour in colours.items():
        bars = [(i.started - origin, i.ended - i.started) for i in placed if i.status == status]
        rows = [row[i.slot] for i in placed if i.status == status]
        for (start, width), y in zip(bars, rows):
            ax.broken_barh([(start, width)], (y - 0.4, 0.8), facecolors=colour, edgecolor="white")
        if bars:
            ax.plot([], [], color=colour, lw=6, label=status)
    share = _share(placed, len(slots))
    ax.set(
        xlabel="seconds since the first training started",
        ylabel="slot",
        title=title or f"trainings per slot (utilization {share:.1%})",
    )
    if len(slots) <= 32:
        ax.set_yticks(range(len(slots)), [str(s) for s in slots])
    ax.legend(loc="upper right", fontsize="small")
    save_png(fig, path)
    return True
