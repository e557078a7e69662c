"""What an evaluation database says about the genes: effects with intervals, importance, a plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter
from scipy import stats

from models import GROUP_NAMES

from ..plotting import new_figure, save_png
from ..search.surrogate import Surrogate

__all__ = [
    "block_type_effects",
    "gene_importance",
    "percentile_of",
    "best_within_cost",
    "plot_analysis",
]


def block_type_effects(table: pd.DataFrame, blocks: list[str]) -> pd.DataFrame:
    """Mean proxy PSNR by block type of each group slot (slots that hold blocks), with a 95%
    t-interval of the mean; ``n`` architectures per cell."""
    rows = []
    for slot, group in enumerate(GROUP_NAMES):
        kinds = [
            a.groups[slot].block if a.groups[slot].num_blocks else "empty" for a in table["arch"]
        ]
        for kind in [*blocks, "empty"]:
            values = table["psnr"][[k == kind for k in kinds]].to_numpy()
            mean = float(values.mean()) if len(values) else np.nan
            half = (
                float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values))
                if len(values) > 2
                else np.nan
            )
            rows.append(
                {
                    "group": group,
                    "block": kind,
                    "n": len(values),
                    "mean_psnr": mean,
                    "ci95_low": mean - half,
                    "ci95_high": mean + half,
                }
            )
    return pd.DataFrame(rows)


def gene_importance(surrogate: Surrogate, table: pd.DataFrame) -> pd.DataFrame:
    """Permutation importance of the surrogate's features, summed per gene (a slot's count, a
    slot's block type, a level's width) plus the cost features; highest first."""
    by_feature = surrogate.importance(list(table["arch"]), table["psnr"].to_numpy())
    genes: dict[str, float] = {}
    for name, value in by_feature.items():
        prefix, _, kind = name.partition(".")
        if prefix in GROUP_NAMES:
            gene = f"{prefix} count" if kind == "count" else f"{prefix} block type"
        elif prefix.startswith("level"):
            gene = f"{prefix} width"
        else:
            gene = name
        genes[gene] = genes.get(gene, 0.0) + value
    return pd.DataFrame({"gene": list(genes), "importance": list(genes.values())}).sort_values(
        "importance", ascending=False, ignore_index=True
    )


def percentile_of(psnr_db: float, table: pd.DataFrame) -> float:
    """Share of the database (in %) that scores below ``psnr_db``."""
    return float((table["psnr"] < psnr_db).mean() * 100)


def best_within_cost(table: pd.DataFrame, max_gflops: float) -> pd.Series | None:
    """The best-scoring architecture of the database at or below ``max_gflops``."""
    cheaper = table[table["gflops"] <= max_gflops]
    return None if cheaper.empty else cheaper.loc[cheaper["psnr"].idxmax()]


def plot_analysis(
    effects: pd.DataFrame,
    importance: pd.DataFrame,
    table: pd.DataFrame,
    path: Path,
    reference: tuple[str, float, float] | None = None,
) -> None:
    """Three panels: PSNR by block type per slot (95% CI), gene importance, PSNR against GFLOPs."""
    fig, axes = new_figure(16, 4.5, ncols=3)
    kinds = [k for k in effects["block"].unique() if k != "empty"]
    for i, kind in enumerate(kinds):
        part = effects[effects["block"] == kind]
        x = np.arange(len(GROUP_NAMES)) + (i - (len(kinds) - 1) / 2) * 0.25
        axes[0].errorbar(
            x,
            part["mean_psnr"],
            yerr=[part["mean_psnr"] - part["ci95_low"], part["ci95_high"] - part["mean_psnr"]],
            fmt="o",
            capsize=3,
            label=kind,
        )
    axes[0].set(
        xticks=range(len(GROUP_NAMES)),
        xticklabels=GROUP_NAMES,
        ylabel="mean proxy PSNR (dB)",
        title="block type per group (95% CI)",
    )
    axes[0].legend()
    axes[1].barh(importance["gene"][::-1], importance["importance"][::-1])
    axes[1].set(xlabel="permutation importance (drop in R²)", title="genes, by the surrogate")
    axes[2].scatter(table["gflops"], table["psnr"], s=10, alpha=0.6, label="database")
    if reference:
        name, gflops, psnr = reference
        axes[2].scatter([gflops], [psnr], marker="*", s=200, c="r", label=name)
    axes[2].set(
        xscale="log",
        xlabel="GFLOPs at 256 x 256 (full width)",
        ylabel="proxy PSNR (dB)",
        title="quality against cost",
    )
    axes[2].xaxis.set_minor_formatter(NullFormatter())  # log-axis minor labels overlap
    axes[2].legend()
    save_png(fig, path)
