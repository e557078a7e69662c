"""A run folder's tables, best.json and plots (fitness.png, pareto.png, timeline.png), rewritten
after every generation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..atomic import atomic_write_text
from ..plotting import new_figure, save_png
from .best import BestRecord, ParetoMember
from .result import Evaluation
from .timeline import plot_timeline

__all__ = ["evaluations_table", "write_reports"]


def evaluations_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation (the columns of :meth:`Evaluation.to_row`), in generation order."""
    table = pd.DataFrame([e.to_row() for e in evaluations])
    return table.sort_values(["generation", "key"], kind="stable") if len(table) else table


def _atomic_csv(table: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, table.to_csv(index=False))


def write_reports(engine) -> BestRecord:
    """Write evaluations.csv, logbook.csv, best.json and the plots of ``engine`` (a
    :class:`~nas.search.engine.SearchEngine` with a run folder); returns the best.json record."""
    folder = engine.run_dir
    table = evaluations_table(list(engine.evaluations.values()))
    _atomic_csv(table, folder / "evaluations.csv")
    _atomic_csv(pd.DataFrame(list(engine.logbook)), folder / "logbook.csv")
    best = replace(engine.best(), run=str(folder))
    atomic_write_text(folder / "best.json", best.to_json())
    _plot_fitness(table, pd.DataFrame(list(engine.logbook)), folder / "fitness.png")
    plot_timeline(engine.evaluations.values(), folder / "timeline.png")
    if len(engine.objectives) > 1:
        _plot_pareto(table, best.pareto or (), engine.objectives[1], folder / "pareto.png")
    return best


def _plot_fitness(table: pd.DataFrame, logbook: pd.DataFrame, path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure()
    ok = table[table["status"] == "ok"]
    ax.scatter(ok["generation"], ok["psnr"], s=12, alpha=0.5, label="evaluations")
    ax.plot(logbook["gen"], logbook["best"], "-o", label="best so far")
    ax.plot(logbook["gen"], logbook["median"], "--", label="median of offspring")
    ax.set(xlabel="generation", ylabel="validation PSNR (dB)", title="fitness per generation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    save_png(fig, path)


def _plot_pareto(
    table: pd.DataFrame, pareto: tuple[ParetoMember, ...], cost: str, path: Path
) -> None:
    fig, ax = new_figure()
    ok = table[table["status"] == "ok"]
    ax.scatter(ok[cost], ok["psnr"], s=12, alpha=0.4, label="evaluations")
    front = sorted(
        (getattr(p.metrics, cost), p.metrics.psnr) for p in pareto if p.metrics.status == "ok"
    )
    if front:
        ax.plot(*zip(*front), "r-o", label="Pareto front")
    ax.set(xlabel=cost, ylabel="validation PSNR (dB)", title="Pareto front")
    ax.legend()
    save_png(fig, path)
