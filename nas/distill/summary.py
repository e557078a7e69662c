"""Across seeds: each ablation row as mean ± standard deviation, and paired differences
(per seed, one row minus another) with a t-based 95% confidence interval.

A difference is *distinguishable from zero* when its 95% interval excludes 0. With n seeds the
interval is mean ± t(0.975, n − 1) · std / sqrt(n); one seed gives no interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from .ablation import unlabeled_setting
from .stages import DIFFERENCES, entry

__all__ = ["DIFFERENCES", "summarize_seeds", "format_summary"]

METRICS = ("psnr", "psnr_x8")


def _key(name: str) -> tuple[str, str]:
    """The (step, network) columns of a stage's ablation row."""
    row = entry(name)
    return row.step, row.label


def _interval(values: np.ndarray) -> tuple[float, float]:
    if len(values) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


@dataclass
class SummaryRow:
    """One row of ``ablation_summary.csv``."""

    kind: str  # "row" (one ablation row) or "paired difference"
    step: str
    network: str
    metric: str
    n: int
    mean: float
    std: float
    ci95_low: float
    ci95_high: float
    distinguishable_from_zero: bool | None
    x8_protocol: str | None = None  # the ensemble protocol of a psnr_x8 entry
    unlabeled: str | None = None  # the unlabeled inputs' setting, "kind (source)"


def _row(
    kind: str, step: str, network: str, metric: str, values: np.ndarray, interval: bool
) -> SummaryRow:
    low, high = _interval(values) if interval else (math.nan, math.nan)
    distinguishable = bool(low > 0 or high < 0) if interval and not math.isnan(low) else None
    std = values.std(ddof=1) if len(values) > 1 else math.nan
    return SummaryRow(
        kind, step, network, metric, len(values), values.mean(), std, low, high, distinguishable
    )


def _x8_protocol(table: pd.DataFrame) -> str | None:
    """The ensemble protocol(s) behind the rows' psnr_x8 ("/"-joined if seeds differ); None for
    rows that do not record it."""
    if "x8_protocol" not in table:
        return None
    return "/".join(sorted(set(table["x8_protocol"].dropna()))) or None


def _differences(wide: dict[str, pd.DataFrame]) -> list[SummaryRow]:
    """One ``paired difference`` per :data:`DIFFERENCES` whose rows are both there, and metric."""
    out = []
    for difference in DIFFERENCES:
        minuend, subtrahend = _key(difference.minuend), _key(difference.subtrahend)
        if minuend in wide["psnr"] and subtrahend in wide["psnr"]:
            label = f"{minuend[0]} - {subtrahend[0]}"
            out += [
                _row(
                    "paired difference",
                    label,
                    difference.network,
                    m,
                    (wide[m][minuend] - wide[m][subtrahend]).dropna().to_numpy(float),
                    interval=True,
                )
                for m in METRICS
            ]
    return out


def summarize_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """From the per-seed ablation rows (columns seed, step, network, psnr, psnr_x8 and optionally
    x8_protocol, unlabeled, unlabeled_source): one ``row`` entry per (step, network) and metric,
    then one ``paired difference`` entry per :data:`DIFFERENCES` and metric, over the seeds that
    have both rows; the psnr_x8 entries name the ensemble protocol, every entry the unlabeled
    inputs' setting."""
    out = []
    for (step, network), rows in table.groupby(["step", "network"], sort=False):
        out += [
            _row("row", step, network, m, rows[m].to_numpy(float), interval=False) for m in METRICS
        ]
    wide = {m: table.pivot(index="seed", columns=["step", "network"], values=m) for m in METRICS}
    out += _differences(wide)
    protocol, setting = _x8_protocol(table), unlabeled_setting(table)
    for row in out:
        row.x8_protocol = protocol if row.metric == "psnr_x8" else None
        row.unlabeled = setting
    frame = pd.DataFrame([asdict(row) for row in out], columns=[f.name for f in fields(SummaryRow)])
    return frame.astype({"distinguishable_from_zero": "boolean"})


def _metric(row) -> str:
    """A summary row's metric, with the ensemble protocol of an x8 one."""
    protocol = getattr(row, "x8_protocol", None)
    return f"{row.metric} ({protocol})" if isinstance(protocol, str) else row.metric


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as text: rows as mean ± std, differences with their interval and verdict."""
    settings = summary["unlabeled"].dropna().unique() if "unlabeled" in summary else []
    lines = [f"unlabeled inputs: {'; '.join(settings)}"] if len(settings) else []
    rows = summary[summary["kind"] == "row"]
    for (step, network), group in rows.groupby(["step", "network"], sort=False):
        cells = [f"{_metric(r)} {r.mean:.3f} ± {r.std:.3f}" for r in group.itertuples()]
        lines.append(f"{step:<10} {network:<26} " + "   ".join(cells))
    n = int(summary["n"].max()) if len(summary) else 0
    lines.append(
        f"paired differences over {n} seeds (dB; 95% t interval; distinguishable from zero = "
        "the interval excludes 0):"
    )
    for r in summary[summary["kind"] == "paired difference"].itertuples():
        verdict = (
            "no interval (one seed)"
            if pd.isna(r.distinguishable_from_zero)
            else "distinguishable from zero"
            if r.distinguishable_from_zero
            else "not distinguishable from zero"
        )
        lines.append(
            f"{r.step:<20} {r.network:<18} {_metric(r):<8} {r.mean:+.3f} [{r.ci95_low:+.3f}, "
            f"{r.ci95_high:+.3f}]  {verdict}"
        )
    return "\n".join(lines)
